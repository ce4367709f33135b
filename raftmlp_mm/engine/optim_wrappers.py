from contextlib import contextmanager

import torch
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper

from ..registry import OPTIM_WRAPPERS


def _to_float32(feats):
    """Features out of the autocast region, back in fp32 (tensors, or tuples/lists of them)."""
    if isinstance(feats, torch.Tensor):
        return feats.float()
    if isinstance(feats, (tuple, list)):
        return type(feats)(_to_float32(f) for f in feats)
    return feats


@OPTIM_WRAPPERS.register_module()
class BFloat16AutocastOptimWrapper(OptimWrapper):
    """Mixed precision on CPU: backbone and neck run under bfloat16 autocast, weights stay fp32.

    MMEngine's AmpOptimWrapper needs CUDA (fp16 loss scaling). bfloat16 has fp32's exponent
    range, so it needs no loss scaling; gradients and the optimizer step stay fp32. Only the
    model's ``extract_feat`` (backbone + neck in mmpretrain, mmdet and mmseg models, where the
    time goes) runs in bfloat16: the heads get fp32 features, because mmcv's CPU ops that
    detection heads call (nms, RoIAlign) have no bfloat16 kernels. A model without
    ``extract_feat`` runs wholly under autocast.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        MMLogger.get_current_instance().info(
            'mixed precision: bfloat16 autocast on CPU for backbone and neck, no loss scaling '
            '(fp16 with loss scaling is used on CUDA)')

    @contextmanager
    def optim_context(self, model):
        module = model.module if is_model_wrapper(model) else model
        extract_feat = getattr(module, 'extract_feat', None)
        with super().optim_context(model):
            if extract_feat is None:
                with torch.autocast('cpu', dtype=torch.bfloat16):
                    yield
                return

            def extract_feat_in_bfloat16(*args, **kwargs):
                with torch.autocast('cpu', dtype=torch.bfloat16):
                    return _to_float32(extract_feat(*args, **kwargs))

            module.extract_feat = extract_feat_in_bfloat16  # for this step only
            try:
                yield
            finally:
                del module.extract_feat
