from contextlib import contextmanager

import torch
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper

from ..registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BFloat16AutocastOptimWrapper(OptimWrapper):
    """Mixed precision on CPU: the forward runs under bfloat16 autocast, weights stay fp32.

    MMEngine's AmpOptimWrapper needs CUDA (fp16 loss scaling). bfloat16 has fp32's exponent
    range, so it needs no loss scaling; gradients and the optimizer step stay fp32.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        MMLogger.get_current_instance().info(
            'mixed precision: bfloat16 autocast on CPU, no loss scaling '
            '(fp16 with loss scaling is used on CUDA)')

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield
