from .runner import build_runner, host_of, load_config

__all__ = ['build_runner', 'host_of', 'load_config']
