from .complexity import count_linear_macs, count_parameters

__all__ = ['count_linear_macs', 'count_parameters']
