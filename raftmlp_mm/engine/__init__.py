"""Training-loop pieces the tools add: the non-finite-loss stop and CPU bfloat16 autocast."""
from .hooks import StopOnNonFiniteLoss
from .optim_wrappers import BFloat16AutocastOptimWrapper

__all__ = ['BFloat16AutocastOptimWrapper', 'StopOnNonFiniteLoss']
