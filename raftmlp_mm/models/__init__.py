from .raftmlp import RaftMLP

__all__ = ['RaftMLP']
