"""The batch augmentation of the paper's classification recipes, beyond mmpretrain 1.2.0.

``SequentialMixupCutMix``: Mixup and then CutMix on every training batch, as the original
training loop does (okojoalg/raft-mlp ``libs/augmentations.py``). mmpretrain's
``RandomBatchAugment`` applies *one* of its augments per batch, so its ``Mixup`` and ``CutMix``
cannot express this on their own. Configs name it ``raftmlp_mm.SequentialMixupCutMix``.

Everything else in the recipes (RandAugment, ColorJitter, random erasing, label smoothing,
warm-up + cosine) is mmpretrain's own and is configured in ``configs/classification/_base_``.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from mmpretrain.models.utils.batch_augments import CutMix, Mixup

from ..registry import BATCH_AUGMENTS


class InsideBoxCutMix(CutMix):
    """CutMix with the original code's box: it always lies fully inside the image.

    The box is ``int(sqrt(1 - lam) * H)`` by ``int(sqrt(1 - lam) * W)`` with a uniformly random
    top-left corner, and the sampled ``lam`` weights the labels as it is. mmpretrain's ``CutMix``
    instead centres the box anywhere and clips it at the border (then optionally re-computes
    ``lam`` from the clipped area), which pastes smaller boxes near the edges.
    """

    def __init__(self, alpha: float):
        super().__init__(alpha=alpha, cutmix_minmax=None, correct_lam=False)

    def rand_bbox(self, img_shape: Tuple[int, int], lam: float, margin: float = 0.,
                  count: Optional[int] = None) -> Tuple[int, int, int, int]:
        img_h, img_w = img_shape
        ratio = np.sqrt(1. - lam)
        cut_h, cut_w = int(img_h * ratio), int(img_w * ratio)
        top = np.random.randint(0, img_h - cut_h + 1, size=count)
        left = np.random.randint(0, img_w - cut_w + 1, size=count)
        return top, top + cut_h, left, left + cut_w


@BATCH_AUGMENTS.register_module()
class SequentialMixupCutMix:
    """Mixup, then CutMix on the mixed batch: both on every batch, as in the original training.

    One ``lam`` and one permutation per batch for each step. Label smoothing is linear in the
    target, so mixing the (one-hot) scores here and smoothing them in ``LabelSmoothLoss`` gives
    exactly the original's nested loss
    ``lc * [lm * L(y) + (1 - lm) * L(y[p1])]
    + (1 - lc) * [lm * L(y[p2]) + (1 - lm) * L(y[p1][p2])]``.

    Args:
        mixup_alpha: Beta(alpha, alpha) parameter of Mixup's ratio.
        cutmix_alpha: Beta(alpha, alpha) parameter of CutMix's ratio. The original passes the
            Mixup alpha to both (its configs' separate ``cutmix_alpha: 1.0`` is never read), so
            the recipes set 0.8 for both.
    """

    def __init__(self, mixup_alpha: float = 0.8, cutmix_alpha: float = 0.8):
        self.mixup = Mixup(alpha=float(mixup_alpha))
        self.cutmix = InsideBoxCutMix(alpha=float(cutmix_alpha))

    def __call__(self, batch_inputs: torch.Tensor,
                 batch_scores: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        batch_inputs, batch_scores = self.mixup(batch_inputs, batch_scores)
        return self.cutmix(batch_inputs, batch_scores)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mixup_alpha={self.mixup.alpha}, '
                f'cutmix_alpha={self.cutmix.alpha})')
