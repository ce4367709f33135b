"""Small real datasets built from scikit-learn's handwritten digits (1,797 8x8 scans).

Nothing can be downloaded at run time, so the demos train on data a package ships:
- ``write_classification``: an mmpretrain ``CustomDataset`` folder tree
  ``<root>/{train,val}/<digit>/<n>.png``, digits upscaled to ``size`` px.
- ``write_canvases``: digits pasted on dark canvases at random positions and scales, written
  both as COCO instance segmentation (``annotations/instances_{train,val}.json`` + ``images/``)
  and in ADE20K's layout (``images/{training,validation}``, ``annotations/{training,validation}``
  PNG label maps, 0 = background, digit d = d + 1). The instance mask is the digit's own ink.
The train / val split is fixed by ``seed``; writing is skipped when the data is already there.
"""
import json
import os
import os.path as osp
from typing import Tuple

import numpy as np
from PIL import Image

DIGIT_CLASSES = tuple(str(d) for d in range(10))
_DONE = '.complete'  # written last: a folder without it is an interrupted, incomplete write


def _load_digits():
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images / 16. * 255.).astype(np.uint8)  # (1797, 8, 8), ink = bright
    return images, digits.target.astype(np.int64)


def _split(num: int, val_fraction: float, seed: int):
    order = np.random.RandomState(seed).permutation(num)
    num_val = int(round(num * val_fraction))
    return order[num_val:], order[:num_val]


def _is_complete(root: str) -> bool:
    return osp.isfile(osp.join(root, _DONE))


def _mark_complete(root: str):
    with open(osp.join(root, _DONE), 'w') as f:
        f.write('ok\n')


def _upscale(digit: np.ndarray, size: int) -> Image.Image:
    return Image.fromarray(digit).resize((size, size), Image.BICUBIC)


def write_classification(root: str, size: int = 32, val_fraction: float = 0.2,
                         seed: int = 0) -> str:
    """Write the digits as ``<root>/{train,val}/<digit>/<index>.png`` (RGB) and return root."""
    if _is_complete(root):
        return root
    images, labels = _load_digits()
    for split, indices in zip(('train', 'val'), _split(len(images), val_fraction, seed)):
        for i in indices:
            folder = osp.join(root, split, DIGIT_CLASSES[labels[i]])
            os.makedirs(folder, exist_ok=True)
            _upscale(images[i], size).convert('RGB').save(osp.join(folder, f'{i:04d}.png'))
    _mark_complete(root)
    return root


def _paste_digits(rng: np.random.RandomState, images, labels, pool, canvas_size: Tuple[int, int],
                  max_digits: int, scale_range: Tuple[int, int]):
    """One canvas: an RGB image, per-instance (label, mask) and a semantic label map."""
    H, W = canvas_size
    image = rng.randint(0, 40, size=(H, W, 3)).astype(np.uint8)  # dark, noisy background
    semantic = np.zeros((H, W), np.uint8)
    instances = []
    occupied = np.zeros((H, W), bool)
    for _ in range(rng.randint(1, max_digits + 1)):
        idx = pool[rng.randint(len(pool))]
        size = rng.randint(scale_range[0], scale_range[1] + 1)
        for _try in range(10):  # find a free place so instances do not overlap
            y, x = rng.randint(0, H - size + 1), rng.randint(0, W - size + 1)
            if not occupied[y:y + size, x:x + size].any():
                break
        else:
            continue
        ink = np.asarray(_upscale(images[idx], size), np.float32) / 255.
        mask = ink > 0.35
        if mask.sum() < 4:
            continue
        color = rng.randint(120, 256, size=3).astype(np.float32)
        patch = image[y:y + size, x:x + size].astype(np.float32)
        blended = patch * (1 - ink[..., None]) + color * ink[..., None]
        image[y:y + size, x:x + size] = blended.clip(0, 255).astype(np.uint8)
        full_mask = np.zeros((H, W), bool)
        full_mask[y:y + size, x:x + size] = mask
        occupied[y:y + size, x:x + size] = True
        semantic[full_mask] = labels[idx] + 1
        instances.append((int(labels[idx]), full_mask))
    return image, instances, semantic


def _coco_annotation(ann_id: int, image_id: int, label: int, mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
    rle['counts'] = rle['counts'].decode('ascii')
    return dict(id=ann_id, image_id=image_id, category_id=label, segmentation=rle,
                area=float(mask.sum()), bbox=[x, y, w, h], iscrowd=0)


def write_canvases(root: str, num_train: int = 400, num_val: int = 100,
                   canvas_size: Tuple[int, int] = (128, 128), max_digits: int = 4,
                   scale_range: Tuple[int, int] = (24, 56), val_fraction: float = 0.2,
                   seed: int = 0) -> str:
    """Write digit canvases as COCO instances and as ADE20K-style label maps under ``root``."""
    if _is_complete(root):
        return root
    images, labels = _load_digits()
    train_pool, val_pool = _split(len(images), val_fraction, seed)
    categories = [dict(id=d, name=name) for d, name in enumerate(DIGIT_CLASSES)]
    rng = np.random.RandomState(seed)
    for coco_split, ade_split, pool, count in (('train', 'training', train_pool, num_train),
                                               ('val', 'validation', val_pool, num_val)):
        for sub in (f'images/{ade_split}', f'annotations/{ade_split}'):
            os.makedirs(osp.join(root, sub), exist_ok=True)
        coco = dict(images=[], annotations=[], categories=categories)
        for image_id in range(count):
            image, instances, semantic = _paste_digits(rng, images, labels, pool, canvas_size,
                                                       max_digits, scale_range)
            name = f'{coco_split}_{image_id:05d}'
            Image.fromarray(image).save(osp.join(root, 'images', ade_split, name + '.jpg'),
                                        quality=95)
            Image.fromarray(semantic).save(osp.join(root, 'annotations', ade_split, name + '.png'))
            coco['images'].append(dict(id=image_id, file_name=f'{ade_split}/{name}.jpg',
                                       height=canvas_size[0], width=canvas_size[1]))
            for label, mask in instances:
                coco['annotations'].append(
                    _coco_annotation(len(coco['annotations']) + 1, image_id, label, mask))
        with open(osp.join(root, 'annotations', f'instances_{coco_split}.json'), 'w') as f:
            json.dump(coco, f)
    _mark_complete(root)
    return root
