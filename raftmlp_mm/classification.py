"""What the paper's classification recipes need beyond mmpretrain 1.2.0.

- ``SequentialMixupCutMix``: Mixup and then CutMix on every training batch, as the original
  training loop does (okojoalg/raft-mlp ``libs/augmentations.py``). mmpretrain's
  ``RandomBatchAugment`` applies *one* of its augments per batch, so its ``Mixup`` and ``CutMix``
  cannot express this on their own.
- ``INaturalist``: iNaturalist 2018 / 2019 read from the competition's COCO-style json files
  (``train2018.json`` ...), which mmpretrain has no dataset class for.

Everything else in the recipes (RandAugment, ColorJitter, random erasing, label smoothing,
warm-up + cosine) is mmpretrain's own and is configured in ``configs/classification/_base_``.
"""
import json
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmpretrain.datasets import BaseDataset
from mmpretrain.models.utils.batch_augments import CutMix, Mixup
from mmpretrain.registry import BATCH_AUGMENTS

from .registry import DATASETS


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
    ``lc * [lm * L(y) + (1 - lm) * L(y[p1])] + (1 - lc) * [lm * L(y[p2]) + (1 - lm) * L(y[p1][p2])]``.

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


@DATASETS.register_module()
class INaturalist(BaseDataset):
    """iNaturalist 2018 / 2019 from the competition's annotation files.

    Layout (as the original RaftMLP README documents it)::

        data/i_naturalist_18/
        ├── train_val2018/<super category>/<category id>/<image>.jpg
        ├── train2018.json
        └── val2018.json

    Each json is COCO-style: ``images`` (``id``, ``file_name`` relative to ``data_root``),
    ``annotations`` (``image_id``, ``category_id``) and ``categories`` (``id``, ``name``).
    Labels are the categories' positions in id order (8,142 classes in 2018, 1,010 in 2019,
    where the ids are already 0..N-1).

    Args:
        data_root: dataset root.
        ann_file: annotation json relative to ``data_root``, e.g. ``'train2018.json'``.
        **kwargs: other :class:`mmpretrain.datasets.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``indices`` ...).
    """

    def __init__(self, data_root: str, ann_file: str, **kwargs):
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        with open(self.ann_file) as f:
            annotations = json.load(f)
        category_ids = sorted({c['id'] for c in annotations.get('categories', [])} or
                              {a['category_id'] for a in annotations['annotations']})
        names = {c['id']: str(c.get('name', c['id'])) for c in annotations.get('categories', [])}
        label_of = {cid: i for i, cid in enumerate(category_ids)}
        file_of = {image['id']: image['file_name'] for image in annotations['images']}
        self._metainfo['classes'] = tuple(names.get(cid, str(cid)) for cid in category_ids)
        return [dict(img_path=osp.join(self.data_root, file_of[a['image_id']]),
                     gt_label=label_of[a['category_id']])
                for a in annotations['annotations']]
