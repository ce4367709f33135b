"""iNaturalist 2018 / 2019, which mmpretrain 1.2.0 has no dataset class for."""
import json
import os.path as osp
from typing import List

from mmpretrain.datasets import BaseDataset

from ..registry import DATASETS


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
