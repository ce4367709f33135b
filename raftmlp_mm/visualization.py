"""Pictures of a model's predictions, drawn with the hosts' own visualizers and APIs.

- ``detection_grid``: held-out images, ground truth beside prediction (boxes, masks, labels,
  scores), drawn by mmdet's ``DetLocalVisualizer``; predictions from ``init_detector`` +
  ``inference_detector``.
- ``segmentation_overlays``: ground-truth and predicted label maps over held-out images, drawn by
  mmseg's ``SegLocalVisualizer``; predictions from ``init_model`` + ``inference_model``.
- ``classification_report``: the confusion matrix on the held-out split (mmpretrain's
  ``ConfusionMatrix``) and a grid of the misclassified images; predictions from
  ``ImageClassificationInferencer``.
- ``infer``: any config on one's own images, through its host's inferencer (``tools/infer.py``).

The host is the config's ``default_scope`` (``mmdet``, ``mmseg`` or ``mmpretrain``). Held-out
items are the first ones of the config's ``test_dataloader`` dataset; relative data roots are
resolved from the current directory, as by ``tools/test.py``.
"""
import copy
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .launch import host_of

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


# ------------------------------------------------------------------------------------- helpers
def config_of(config, cfg_options: Optional[dict] = None):
    """A Config from a path or a Config, with ``cfg_options`` merged (custom_imports imported)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config) if isinstance(config, (str, os.PathLike)) else \
        copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def picture_tool_parser(description: str):
    """The arguments of tools/misc/visualize_*.py: CONFIG CHECKPOINT [--device] [--cfg-options];
    each tool adds its own."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser


def list_images(path: str) -> List[str]:
    """``path`` itself if it is a file, else the images directly inside the folder, sorted."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path} is neither an image nor a folder')
    images = sorted(osp.join(path, name) for name in os.listdir(path)
                    if name.lower().endswith(IMAGE_SUFFIXES))
    if not images:
        raise FileNotFoundError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {path}')
    return images


def _text_size(text: str, scale: float, thickness: int):
    import cv2
    (w, h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    return w, h + baseline


def caption(image: np.ndarray, text: str, scale: float = 0.5, height: int = 24) -> np.ndarray:
    """``image`` (RGB) under a white strip of ``height`` px carrying ``text``."""
    import cv2
    strip = np.full((height, image.shape[1], 3), 255, np.uint8)
    width, _ = _text_size(text, scale, 1)
    if width > image.shape[1] - 8:  # shrink the text to fit a narrow image
        scale = max(0.25, scale * (image.shape[1] - 8) / width)
    cv2.putText(strip, text, (4, height - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def make_grid(tiles: Sequence[np.ndarray], columns: int, pad: int = 6) -> np.ndarray:
    """Tiles (RGB, any sizes) in rows of ``columns`` cells of the largest tile's size, on white,
    ``pad`` px apart and around."""
    if not tiles:
        raise ValueError('no images to put in a grid')
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    cell_h = max(t.shape[0] for t in tiles)
    cell_w = max(t.shape[1] for t in tiles)
    grid = np.full((pad + rows * (cell_h + pad), pad + columns * (cell_w + pad), 3), 255,
                   np.uint8)
    for i, tile in enumerate(tiles):
        y = pad + (i // columns) * (cell_h + pad)
        x = pad + (i % columns) * (cell_w + pad)
        grid[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return grid


def legend(width: int, names: Sequence[str], colors: Sequence, alpha: float = 1.,
           row_height: int = 24) -> np.ndarray:
    """A white strip ``width`` px wide with a colour swatch and the name of each class."""
    import cv2
    entries = []
    for name, color in zip(names, colors):
        w, _ = _text_size(str(name), 0.5, 1)
        entries.append((str(name), tuple(int(c) for c in color), w + 26))
    rows, x = [[]], 6
    for entry in entries:
        if x + entry[2] > width and rows[-1]:
            rows.append([])
            x = 6
        rows[-1].append(entry)
        x += entry[2] + 10
    strip = np.full((row_height * len(rows) + 6, width, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        x, y = 6, 6 + r * row_height
        for name, color, w in row:
            # the colour as drawn: blended over black at the visualizer's alpha
            swatch = tuple(int(c * alpha) for c in color)
            cv2.rectangle(strip, (x, y), (x + 16, y + 16), swatch, -1)
            cv2.rectangle(strip, (x, y), (x + 16, y + 16), (0, 0, 0), 1)
            cv2.putText(strip, name, (x + 22, y + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 0, 0), 1, cv2.LINE_AA)
            x += w + 10
    return strip


def save_rgb(path: str, image: np.ndarray) -> str:
    import mmcv
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not mmcv.imwrite(np.ascontiguousarray(image[..., ::-1]), path):
        raise OSError(f'could not write {path}')
    return path


def _resize(array: np.ndarray, scale: int, nearest: bool) -> np.ndarray:
    import cv2
    if scale == 1:
        return np.ascontiguousarray(array)
    h, w = array.shape[:2]
    return cv2.resize(array, (w * scale, h * scale),
                      interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)


def _enlarge(maps: np.ndarray, scale: int) -> np.ndarray:
    """Masks or label maps (..., H, W) enlarged ``scale`` times, each pixel a block."""
    return maps.repeat(scale, axis=-2).repeat(scale, axis=-1)


def build_test_dataset(cfg, scope: str):
    """The config's test dataset, built in its host's scope (annotations are read)."""
    from mmengine.registry import DATASETS, DefaultScope
    with DefaultScope.overwrite_default_scope(scope):
        return DATASETS.build(copy.deepcopy(cfg['test_dataloader']['dataset']))


def dataset_metainfo(cfg, scope: str) -> dict:
    """The test dataset's metainfo (classes, palette) without reading its files."""
    dataset = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset['lazy_init'] = True
    return dict(build_test_dataset(dict(test_dataloader=dict(dataset=dataset)), scope).metainfo)


def fixed_palette(num: int) -> List[tuple]:
    """``num`` distinct-looking colours, the same every time."""
    rng = np.random.RandomState(42)
    return [tuple(int(c) for c in rng.randint(40, 256, 3)) for _ in range(num)]


def _load(transforms: List[dict], info: dict, scope: str) -> dict:
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(scope):
        return Compose(transforms)(copy.deepcopy(info))


def _item_name(info: dict, index: int) -> str:
    path = info.get('img_path')
    return osp.splitext(osp.basename(path))[0] if path else f'{index:05d}'


# ----------------------------------------------------------------------------------- detection
def detection_grid(config, checkpoint: str, out: str, num: int = 8, columns: int = 2,
                   score_thr: float = 0.5, scale: int = 3, device: str = 'cpu',
                   cfg_options: Optional[dict] = None) -> Dict:
    """Draw the first ``num`` held-out images: ground truth (left) and prediction (right).

    Returns ``path``, ``shape`` (H, W, 3) and per image ``items`` (name, digits, predictions).
    """
    import torch
    from mmdet.apis import inference_detector, init_detector
    from mmdet.structures import DetDataSample
    from mmdet.visualization import DetLocalVisualizer
    from mmengine.structures import InstanceData

    cfg = config_of(config, cfg_options)
    model = init_detector(cfg, checkpoint, device=device)
    dataset = build_test_dataset(cfg, 'mmdet')
    with_mask = bool(getattr(model, 'with_mask', False))
    loading = [dict(type='LoadImageFromFile'),
               dict(type='LoadAnnotations', with_bbox=True, with_mask=with_mask)]
    meta = dict(model.dataset_meta)
    meta.setdefault('palette', dataset.metainfo.get('palette') or 'random')
    visualizer = DetLocalVisualizer(name=f'raftmlp_mm-detection-{id(model)}', line_width=2,
                                    alpha=0.5)
    visualizer.dataset_meta = meta

    tiles, items = [], []
    for index in range(min(num, len(dataset))):
        info = dataset.get_data_info(index)
        loaded = _load(loading, info, 'mmdet')
        keep = ~torch.as_tensor(loaded['gt_ignore_flags'], dtype=torch.bool)
        gt = InstanceData(bboxes=loaded['gt_bboxes'].tensor[keep] * scale,
                          labels=torch.as_tensor(loaded['gt_bboxes_labels'])[keep])
        pred = inference_detector(model, info['img_path']).pred_instances.cpu()
        pred = pred[pred.scores >= score_thr]
        shown = InstanceData(bboxes=pred.bboxes * scale, labels=pred.labels, scores=pred.scores)
        if with_mask:
            gt.masks = _enlarge(loaded['gt_masks'].to_ndarray()[keep.numpy()].astype(bool),
                                scale)
            if 'masks' in pred:
                shown.masks = _enlarge(pred.masks.numpy().astype(bool), scale)
        sample = DetDataSample(gt_instances=gt, pred_instances=shown)
        image = _resize(loaded['img'][..., ::-1], scale, nearest=False)
        name = _item_name(info, index)
        visualizer.add_datasample(name, image, sample, draw_gt=True, draw_pred=True,
                                  show=False, pred_score_thr=score_thr)
        tiles.append(caption(visualizer.get_image(),
                             f'{name}: {len(gt)} objects | {len(pred)} predicted'))
        items.append(dict(name=name, objects=len(gt), predicted=len(pred)))
    title = (f'left: ground truth, right: prediction (score >= {score_thr:g}); '
             f'{osp.basename(str(checkpoint))}')
    grid = make_grid(tiles, columns)
    grid = caption(grid, title, scale=0.6, height=30)
    save_rgb(out, grid)
    return dict(path=out, shape=grid.shape, items=items)


# -------------------------------------------------------------------------------- segmentation
def _accumulate_iou(stats: np.ndarray, gt: np.ndarray, pred: np.ndarray, ignore_index: int):
    """Add one image's per-class intersection and union to ``stats`` (2, num_classes)."""
    num_classes = stats.shape[1]
    valid = gt != ignore_index
    gt, pred = gt[valid].astype(np.int64), pred[valid].astype(np.int64)
    intersect = np.bincount(gt[gt == pred], minlength=num_classes)[:num_classes]
    area_gt = np.bincount(gt, minlength=num_classes)[:num_classes]
    area_pred = np.bincount(pred, minlength=num_classes)[:num_classes]
    stats[0] += intersect
    stats[1] += area_gt + area_pred - intersect


def mean_iou(stats: np.ndarray) -> float:
    """mIoU (%) as mmseg's IoUMetric: classes in neither ground truth nor prediction skipped."""
    present = stats[1] > 0
    return float(100 * (stats[0][present] / stats[1][present]).mean()) if present.any() else 0.


def segmentation_overlays(config, checkpoint: str, out_dir: str, num: int = 8, columns: int = 2,
                          scale: int = 3, device: str = 'cpu',
                          cfg_options: Optional[dict] = None) -> Dict:
    """Ground truth (left) and prediction (right) over the first ``num`` held-out images.

    Writes ``out_dir/<image>.png`` per image and ``out_dir/overlays.png`` (all of them); returns
    ``path`` (the grid), ``shape``, ``files`` and ``mIoU`` over the images shown.
    """
    import torch
    from mmengine.structures import PixelData
    from mmseg.apis import inference_model, init_model
    from mmseg.structures import SegDataSample
    from mmseg.visualization import SegLocalVisualizer

    cfg = config_of(config, cfg_options)
    model = init_model(cfg, checkpoint, device=device)
    dataset = build_test_dataset(cfg, 'mmseg')
    meta = model.dataset_meta or dataset.metainfo
    classes = meta['classes']
    palette = meta.get('palette') or dataset.metainfo.get('palette') or \
        fixed_palette(len(classes))
    visualizer = SegLocalVisualizer(name=f'raftmlp_mm-segmentation-{id(model)}', alpha=0.6)
    # (after construction: SegLocalVisualizer's __init__ passes classes and palette swapped)
    visualizer.set_dataset_meta(classes, palette)
    ignore_index = getattr(dataset, 'ignore_index', 255)
    stats = np.zeros((2, len(classes)), np.int64)
    tiles, files, present = [], [], set()
    for index in range(min(num, len(dataset))):
        info = dataset.get_data_info(index)
        loaded = _load([dict(type='LoadImageFromFile'),
                        dict(type='LoadAnnotations',
                             reduce_zero_label=info.get('reduce_zero_label', False))],
                       info, 'mmseg')
        gt = loaded['gt_seg_map']
        pred = inference_model(model, info['img_path']).pred_sem_seg.data[0].cpu().numpy()
        _accumulate_iou(stats, gt, pred, ignore_index)
        sample = SegDataSample(
            gt_sem_seg=PixelData(data=torch.from_numpy(_enlarge(gt, scale)[None])),
            pred_sem_seg=PixelData(data=torch.from_numpy(_enlarge(pred, scale)[None])))
        name = _item_name(info, index)
        image = _resize(loaded['img'][..., ::-1], scale, nearest=False)
        # one panel per call: SegLocalVisualizer keeps only the last panel it drew
        panels = []
        for gt_panel in (True, False):
            visualizer.add_datasample(name, image, sample, draw_gt=gt_panel,
                                      draw_pred=not gt_panel, show=False, with_labels=False)
            panels.append(visualizer.get_image())
        present.update(np.unique(gt).tolist() + np.unique(pred).tolist())
        tile = caption(np.concatenate(panels, axis=1), f'{name}: ground truth | prediction')
        files.append(save_rgb(osp.join(out_dir, f'{name}.png'), tile))
        tiles.append(tile)
    miou = mean_iou(stats)
    grid = make_grid(tiles, columns)
    shown = [c for c in sorted(present) if c < len(classes)]
    grid = np.concatenate([grid, legend(grid.shape[1], [classes[c] for c in shown],
                                        [palette[c] for c in shown], alpha=visualizer.alpha)])
    grid = caption(grid, f'left: ground truth, right: prediction; mIoU {miou:.1f} over these '
                   f'{len(tiles)} images', scale=0.6, height=30)
    path = save_rgb(osp.join(out_dir, 'overlays.png'), grid)
    return dict(path=path, shape=grid.shape, files=files, mIoU=miou)


# ------------------------------------------------------------------------------ classification
def classification_inferencer(cfg, checkpoint: str, device: str = 'cpu'):
    """mmpretrain's ImageClassificationInferencer for a config and checkpoint.

    It builds its test pipeline from the registry of the current default scope, so in a process
    that has used mmdet's or mmseg's APIs (they set theirs) it is built in mmpretrain's.
    """
    from mmengine.registry import DefaultScope
    from mmpretrain.apis import ImageClassificationInferencer
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return ImageClassificationInferencer(model=cfg, pretrained=checkpoint, device=device)


def classification_report(config, checkpoint: str, out_dir: str, max_shown: int = 32,
                          columns: int = 8, batch_size: int = 64, device: str = 'cpu',
                          cfg_options: Optional[dict] = None) -> Dict:
    """Classify the whole held-out split; write ``confusion_matrix.png`` and
    ``misclassified.png`` (up to ``max_shown`` wrong images, true -> predicted label)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import mmcv
    import torch
    from mmpretrain.evaluation import ConfusionMatrix

    cfg = config_of(config, cfg_options)
    inferencer = classification_inferencer(cfg, checkpoint, device)
    dataset = build_test_dataset(cfg, 'mmpretrain')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    paths = [info['img_path'] for info in infos]
    targets = [int(info['gt_label']) for info in infos]
    results = inferencer(paths, batch_size=batch_size)
    preds = [r['pred_label'] for r in results]
    classes = list(inferencer.classes or dataset.metainfo.get('classes') or
                   range(results[0]['pred_scores'].shape[0]))
    matrix = ConfusionMatrix.calculate(torch.tensor(preds), torch.tensor(targets),
                                       num_classes=len(classes))
    accuracy = float(np.mean(np.array(preds) == np.array(targets)))
    os.makedirs(out_dir, exist_ok=True)

    fig = ConfusionMatrix.plot(matrix, include_values=True, classes=[str(c) for c in classes],
                               show=False)
    fig.suptitle(f'top-1 {100 * accuracy:.1f}% on {len(targets)} held-out images '
                 f'({len(targets) - int(matrix.trace())} wrong)')
    cm_path = osp.join(out_dir, 'confusion_matrix.png')
    fig.savefig(cm_path, dpi=80)
    plt.close(fig)

    wrong = [i for i, (p, t) in enumerate(zip(preds, targets)) if p != t]
    shown = wrong[:max_shown]
    rows = max(1, -(-len(shown) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for ax, i in zip(axes.flat, shown):
        ax.imshow(mmcv.imread(paths[i], channel_order='rgb'), interpolation='nearest')
        ax.set_title(f'{classes[targets[i]]} -> {classes[preds[i]]} '
                     f'({results[i]["pred_score"]:.2f})', fontsize=9, color='tab:red')
    more = f'; the first {len(shown)}' if len(wrong) > len(shown) else ''
    fig.suptitle(f'{len(wrong)} of {len(targets)} held-out images misclassified '
                 f'(true -> predicted (score)){more}', fontsize=10)
    mis_path = osp.join(out_dir, 'misclassified.png')
    fig.savefig(mis_path, dpi=100)
    plt.close(fig)
    return dict(accuracy=accuracy, confusion_matrix=cm_path, misclassified=mis_path,
                num_wrong=len(wrong), num_images=len(targets), matrix=matrix)


# ----------------------------------------------------------------------------------- any config
def infer(inputs: Union[str, List[str]], config, checkpoint: str, out_dir: str,
          device: str = 'cpu', score_thr: float = 0.3, batch_size: int = 1,
          cfg_options: Optional[dict] = None) -> List[Dict]:
    """Run ``config`` + ``checkpoint`` on images through its host's inferencer.

    Writes the visualized results to ``out_dir/vis/`` and the raw predictions to
    ``out_dir/preds/`` (detection: one json per image; segmentation: label-map PNGs;
    classification: ``preds.json``). Returns one summary dict per image.
    """
    import json

    images = list_images(inputs) if isinstance(inputs, str) else list(inputs)
    cfg = config_of(config, cfg_options)
    host = host_of(cfg)
    os.makedirs(out_dir, exist_ok=True)
    summaries = []
    if host == 'mmdet':
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(model=cfg, weights=checkpoint, device=device,
                                   show_progress=False)
        result = inferencer(images, batch_size=batch_size, out_dir=out_dir, no_save_pred=False,
                            pred_score_thr=score_thr)
        classes = inferencer.model.dataset_meta['classes']
        for image, pred in zip(images, result['predictions']):
            kept = [(classes[label], score) for label, score in zip(pred['labels'],
                                                                    pred['scores'])
                    if score >= score_thr]
            summaries.append(dict(image=image, objects=kept,
                                  vis=osp.join(out_dir, 'vis', osp.basename(image))))
    elif host == 'mmseg':
        from mmseg.apis import MMSegInferencer
        inferencer = MMSegInferencer(model=cfg, weights=checkpoint, device=device)
        inferencer.show_progress = False
        # MMSegInferencer names and colours the classes as Cityscapes' unless it is given
        # classes and palette: those of the checkpoint (dataset_meta), else of the config
        meta = inferencer.model.dataset_meta or dataset_metainfo(cfg, 'mmseg')
        inferencer.visualizer.set_dataset_meta(meta['classes'],
                                               meta.get('palette') or
                                               fixed_palette(len(meta['classes'])))
        result = inferencer(images, batch_size=batch_size, out_dir=out_dir,
                            pred_out_dir='preds')
        maps = result['predictions']
        maps = maps if isinstance(maps, list) else [maps]
        classes = meta['classes']
        for n, image in enumerate(images):  # named by the image, not by the running count
            os.replace(osp.join(out_dir, 'preds', f'{n:08d}_pred.png'),
                       osp.join(out_dir, 'preds',
                                osp.splitext(osp.basename(image))[0] + '_pred.png'))
        for image, label_map in zip(images, maps):
            labels, counts = np.unique(label_map, return_counts=True)
            share = counts / counts.sum()
            summaries.append(dict(image=image, classes=[
                (classes[label], float(s)) for label, s in zip(labels, share)],
                vis=osp.join(out_dir, 'vis', osp.basename(image))))
    else:
        inferencer = classification_inferencer(cfg, checkpoint, device)
        vis_dir = osp.join(out_dir, 'vis')
        results = inferencer(images, batch_size=batch_size, show_dir=vis_dir)
        for image, res in zip(images, results):
            summaries.append(dict(image=image, pred_class=res.get('pred_class',
                                                                  res['pred_label']),
                                  pred_score=res['pred_score'],
                                  vis=osp.join(vis_dir, osp.splitext(osp.basename(image))[0]
                                               + '.png')))
        os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
        with open(osp.join(out_dir, 'preds', 'preds.json'), 'w') as f:
            json.dump([dict(image=s['image'], pred_class=str(s['pred_class']),
                            pred_score=s['pred_score']) for s in summaries], f, indent=1)
    for summary in summaries:
        summary['host'] = host
    return summaries
