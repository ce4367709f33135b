"""Whole detectors and segmentors for benchmark.py: built from configs, fed synthetic batches,
timed part by part.

What is built. Every RaftMLP row from this repository's config (configs/detection,
configs/segmentation); the ResNet-50 peer from its host's own config, read from the installed
package (``mmdet/.mim/configs``, ``mmseg/.mim/configs``). Random weights: the pretrained
``init_cfg`` is dropped, ``init_weights`` runs the recipe's own random initialisation, nothing is
downloaded. SyncBN becomes plain BN (one process). The test-time score threshold is set to 0, so
that every image keeps the config's ``max_per_img`` (100) detections for post-processing and the
mask head, as a trained model's would, whose scores a random one does not reach.

A unit of work skips the data preprocessor: a random image batch (as after normalisation) with
DetDataSamples of ``NUM_INSTANCES`` ground-truth boxes, labels and (Mask R-CNN) bitmap masks, or
SegDataSamples of random 150-class maps; fixed seed. Training: ``model.loss`` ->
``parse_losses`` -> backward -> the step of the config's own ``optim_wrapper`` (AdamW for our
recipes, SGD for mmdet's and mmseg's R-50), at the learning rate of the recipe's first
iteration (its warm-up applied; the schedulers are not stepped after). Inference:
``model.predict`` under ``no_grad`` in eval mode, post-processing included.

Mask R-CNN training. The mask head runs on the positive RoIs (IoU >= 0.5 with an object; the
sampler takes at most 128 of 512 per image), about 0.5 GMACs each forward, so their number
weighs on the step. The proposals of a random RPN hit the objects only by chance (at 800x1216
only the ground-truth boxes, which the sampler adds, are positive: 8 per image; 45 at 128x128).
A trained RPN puts many proposals on every object, so ``PROPOSALS_PER_OBJECT`` (4) boxes
jittered around each object replace the RPN's lowest-scored proposals: the RPN still runs in
full, the RoI head still gets its 1000 proposals, and the mask head trains on 8 x (4 + 1) = 40
positive RoIs per image plus the chance hits, the same for every model. 40 is our choice, not a
measured property of trained models; the share table prints the mask RoIs per image that each
model's head saw.

Where the time goes (``PartTimer``). perf_counter stamps from forward pre/post hooks on
``model.backbone`` and ``model.neck``; the heads' forward is the rest of ``model.loss`` /
``model.predict`` (head layers, target assignment, losses, proposals, RoI extraction, NMS, mask
pasting). In the backward, hooks on the neck's and the backbone's output tensors fire when
autograd reaches those tensors' producing nodes. The CPU engine runs on the calling thread and
always takes the ready node created last in the forward; a node of the neck is created before
every node of the heads and becomes ready only when the heads have passed it the gradient, so
the first neck output reached ends the heads' backward, and the first backbone output reached
ends the neck's (checked with hooks inside every part: none fires on the wrong side). On CUDA
every stamp synchronizes the device first (a few syncs per unit of work).
"""
import importlib
import logging
import math
import os.path as osp
import statistics
import sys
import time
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch import nn

from raftmlp_mm.launch import HOSTS, _revert_sync_bn, host_of

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PEER = 'resnet50'
# benchmark model name -> the name its configs use
CONFIG_NAMES = {'small': 'raftmlp_s', 'medium': 'raftmlp_m', 'large': 'raftmlp_l',
                'org-mixer': 'org_mixer'}
MODELS = tuple(CONFIG_NAMES) + (PEER, )
OUR_CONFIGS = {
    'maskrcnn': 'configs/detection/maskrcnn_{}_fpn_1x_coco.py',
    'retinanet': 'configs/detection/retinanet_{}_fpn_1x_coco.py',
    'semfpn': 'configs/segmentation/fpn_{}_512x512_40k_ade20k.py',
}
# the peer's config inside the host package; mmseg 1.2.2 ships Semantic FPN R-50 on ADE20K as
# 160k only (the model and optimizer of every schedule are the same)
PEER_CONFIGS = {
    'maskrcnn': ('mmdet', 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
    'retinanet': ('mmdet', 'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'semfpn': ('mmseg', 'sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'),
}
NUM_INSTANCES = 8  # ground-truth objects per image
# Mask R-CNN training: proposals near each object that replace the RPN's lowest-scored ones, so
# that the mask head trains on at least 8 x (4 + the box itself) = 40 positive RoIs per image,
# whatever the random RPN proposes (module docstring)
PROPOSALS_PER_OBJECT = 4
# the attributes detectors and segmentors keep their heads in
HEAD_ATTRIBUTES = ('rpn_head', 'roi_head', 'bbox_head', 'decode_head', 'auxiliary_head')


def config_path(family: str, name: str) -> str:
    if name == PEER:
        host, relative = PEER_CONFIGS[family]
        package_dir = osp.dirname(importlib.import_module(host).__file__)
        return osp.join(package_dir, '.mim', 'configs', relative)
    return osp.join(REPO_ROOT, OUR_CONFIGS[family].format(CONFIG_NAMES[name]))


def short_path(path: str) -> str:
    """``mmdet::mask_rcnn/...`` for a host's own, ``configs/...`` for ours."""
    host, found, relative = path.partition(osp.join('.mim', 'configs') + osp.sep)
    if found:
        return f'{osp.basename(osp.dirname(host))}::{relative}'
    return osp.relpath(path, REPO_ROOT)


def load_config(family: str, name: str) -> Config:
    """The recipe's config (custom_imports honoured: ``raftmlp_mm`` registers our backbone),
    set up for random weights in one process."""
    cfg = Config.fromfile(config_path(family, name))
    model = cfg.model
    model.backbone.init_cfg = None  # no pretrained checkpoint: nothing to download
    model.pop('pretrained', None)  # mmseg's way to name the backbone's checkpoint
    _revert_sync_bn(cfg)  # SyncBN trains only in a process group
    if family == 'maskrcnn':
        model.test_cfg.rcnn.score_thr = 0.
    elif family == 'retinanet':
        model.test_cfg.score_thr = 0.
    return cfg


def host_scope(cfg: Config):
    """The config's default scope (mmdet, mmseg), under which its registries resolve types."""
    return DefaultScope.overwrite_default_scope(host_of(cfg))


def build_model(family: str, name: str) -> nn.Module:
    """The detector / segmentor, randomly initialised as its recipe does; its config rides along
    as ``model.benchmark_config``."""
    cfg = load_config(family, name)
    importlib.import_module(HOSTS[host_of(cfg)]).register_all_modules(init_default_scope=False)
    with host_scope(cfg):
        registry = importlib.import_module(f'{host_of(cfg)}.registry')
        model = registry.MODELS.build(cfg.model)
        with quiet_mmengine_logger():  # init_weights logs every parameter at INFO
            model.init_weights()
    model.benchmark_config = cfg
    return model


@contextmanager
def quiet_mmengine_logger():
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def describe(model: nn.Module) -> Dict[str, object]:
    """What was built: the types of the backbone, the neck and the heads."""
    def name(module: nn.Module) -> str:
        inner = [type(getattr(module, a)).__name__ for a in ('bbox_head', 'mask_head')
                 if getattr(module, a, None) is not None]  # a RoI head's own heads
        return type(module).__name__ + (f'({", ".join(inner)})' if inner else '')
    backbone = model.backbone
    return dict(
        config=short_path(model.benchmark_config.filename),
        detector=type(model).__name__,
        backbone=type(backbone).__name__,
        backbone_variant=getattr(backbone, 'depth', None) or getattr(backbone, 'arch_name', None),
        neck=type(model.neck).__name__,
        heads=[name(getattr(model, a)) for a in HEAD_ATTRIBUTES
               if getattr(model, a, None) is not None])


def detection_batch(batch: int, size: Tuple[int, int], with_masks: bool,
                    device: torch.device) -> Tuple[torch.Tensor, list]:
    """(B, 3, H, W) random images and DetDataSamples of NUM_INSTANCES random objects each."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    generator = torch.Generator().manual_seed(0)
    h, w = size
    inputs = torch.randn(batch, 3, h, w, generator=generator)
    scale = torch.tensor([w, h], dtype=torch.float32)
    samples = []
    for index in range(batch):
        # sides 1/16 to 1/2 of the image's, anywhere inside it: (N, 2) each
        sides = (1 / 16 + 7 / 16 * torch.rand(NUM_INSTANCES, 2, generator=generator)) * scale
        corners = torch.rand(NUM_INSTANCES, 2, generator=generator) * (scale - sides)
        boxes = torch.cat([corners, corners + sides], dim=1)  # (N, 4) x1 y1 x2 y2
        instances = InstanceData(
            bboxes=boxes, labels=torch.randint(0, 80, (NUM_INSTANCES, ), generator=generator))
        if with_masks:
            masks = np.zeros((NUM_INSTANCES, h, w), dtype=np.uint8)  # filled boxes
            for mask, (x1, y1, x2, y2) in zip(masks, boxes.round().long().tolist()):
                mask[y1:y2, x1:x2] = 1
            instances.masks = BitmapMasks(masks, h, w)
        sample = DetDataSample(metainfo=dict(
            img_id=index, img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
            batch_input_shape=(h, w), scale_factor=(1., 1.)))
        sample.gt_instances = instances
        samples.append(sample.to(device))
    return inputs.to(device), samples


def segmentation_batch(batch: int, size: Tuple[int, int], num_classes: int,
                       device: torch.device) -> Tuple[torch.Tensor, list]:
    """(B, 3, H, W) random images and SegDataSamples of random (1, H, W) class maps."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(0)
    h, w = size
    inputs = torch.randn(batch, 3, h, w, generator=generator)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                             pad_shape=(h, w)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, h, w), generator=generator))
        samples.append(sample.to(device))
    return inputs.to(device), samples


def synthetic_batch(family: str, model: nn.Module, batch: int, size: Tuple[int, int],
                    device: torch.device) -> Tuple[torch.Tensor, list]:
    if family == 'semfpn':
        num_classes = model.benchmark_config.model.decode_head.num_classes
        return segmentation_batch(batch, size, num_classes, device)
    return detection_batch(batch, size, with_masks=family == 'maskrcnn', device=device)


def tensors(outputs) -> List[torch.Tensor]:
    return [t for t in (outputs if isinstance(outputs, (list, tuple)) else [outputs])
            if isinstance(t, torch.Tensor)]


def proposals_near_objects(samples: list, per_object: int) -> List[torch.Tensor]:
    """(N * per_object, 4) boxes per image: each ground-truth box with every side moved by up to
    10% of its size (IoU >= 0.64 with it), inside the image; fixed seed."""
    generator = torch.Generator().manual_seed(1)
    proposals = []
    for sample in samples:
        gt_boxes = sample.gt_instances.bboxes
        boxes = gt_boxes.cpu().repeat_interleave(per_object, dim=0)  # (N * k, 4)
        sizes = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)  # w h w h
        boxes += (torch.rand(boxes.shape, generator=generator) * 2 - 1) * 0.1 * sizes
        h, w = sample.metainfo['img_shape']
        boxes = boxes.clamp(min=0).minimum(torch.tensor([w, h, w, h], dtype=boxes.dtype))
        proposals.append(boxes.to(gt_boxes.device))
    return proposals


def feed_proposals(rpn_head: nn.Module, proposals: List[torch.Tensor]):
    """Make the RPN's training predictions end with ``proposals`` (its lowest-scored ones are
    replaced; the RPN's own work is unchanged)."""
    loss_and_predict = rpn_head.loss_and_predict

    def with_proposals(*args, **kwargs):
        losses, results = loss_and_predict(*args, **kwargs)
        for result, boxes in zip(results, proposals):  # results are sorted by score
            kept = max(len(result) - len(boxes), 0)
            bboxes = torch.cat([result.bboxes[:kept], boxes[:len(result)]])
            result.bboxes = bboxes  # same length: the other fields stay valid
        return losses, results
    rpn_head.loss_and_predict = with_proposals


def count_mask_rois(model: nn.Module) -> List[int]:
    """The list the RoIs of every mask head call are counted into (empty list: no mask head)."""
    counts: List[int] = []
    mask_head = getattr(getattr(model, 'roi_head', None), 'mask_head', None)
    if mask_head is not None:
        mask_head.register_forward_pre_hook(lambda module, args: counts.append(len(args[0])))
    return counts


class PartTimer:
    """Stamps of one unit of work: forward seconds of the backbone and the neck, and when the
    backward first reached each one's outputs (see the module's docstring)."""

    PARTS = ('backbone', 'neck')

    def __init__(self, model: nn.Module, device: torch.device):
        self.synchronize = torch.cuda.synchronize if device.type == 'cuda' else None
        self.forward_seconds: Dict[str, float] = {}
        self.grad_reached: Dict[str, float] = {}
        self.entered: Dict[str, float] = {}
        for part in self.PARTS:
            module = getattr(model, part)
            module.register_forward_pre_hook(self.on_enter(part))
            module.register_forward_hook(self.on_leave(part))
        self.reset()

    def now(self) -> float:
        if self.synchronize:
            self.synchronize()
        return time.perf_counter()

    def reset(self):
        self.forward_seconds = dict.fromkeys(self.PARTS, 0.)
        self.grad_reached = {}

    def on_enter(self, part: str) -> Callable:
        def hook(module, args):
            self.entered[part] = self.now()
        return hook

    def on_leave(self, part: str) -> Callable:
        def hook(module, args, outputs):
            self.forward_seconds[part] += self.now() - self.entered[part]
            for output in tensors(outputs):
                if output.requires_grad:
                    output.register_hook(self.on_grad(part))
        return hook

    def on_grad(self, part: str) -> Callable:
        def hook(grad):
            self.grad_reached.setdefault(part, self.now())
        return hook


class WholeModelStep:
    """One unit of work of a whole model; ``parts`` gets the seconds of each part per call."""

    def __init__(self, family: str, model: nn.Module, train: bool, batch: int,
                 size: Tuple[int, int], device: torch.device):
        from mmengine.optim import build_optim_wrapper
        self.model, self.train = model, train
        self.cfg = model.benchmark_config
        self.inputs, self.samples = synthetic_batch(family, model, batch, size, device)
        self.timer = PartTimer(model, device)
        self.parts: List[Dict[str, float]] = []
        self.mask_rois = count_mask_rois(model)  # per call of the mask head (all images)
        self.last_loss: Optional[torch.Tensor] = None
        self.batch = batch
        model.train(train)
        if train:
            if family == 'maskrcnn':
                feed_proposals(model.rpn_head,
                               proposals_near_objects(self.samples, PROPOSALS_PER_OBJECT))
            with host_scope(self.cfg):
                self.optim_wrapper = build_optim_wrapper(model, self.cfg.optim_wrapper)
                first_iteration_lr(self.optim_wrapper, self.cfg)

    def __call__(self):
        with host_scope(self.cfg):
            self.parts.append(self.train_step() if self.train else self.predict())

    def clear_records(self):
        """Forget the calls so far (the warm-up's)."""
        self.parts.clear()
        self.mask_rois.clear()

    def summary(self) -> Dict[str, object]:
        """Median ms of each part over the calls and its share (%) of their sum, so that the
        shares add up to 100; the mask RoIs per image if there is a mask head."""
        ms = {key: statistics.median(p[key] for p in self.parts) * 1e3 for key in self.parts[0]}
        total = sum(ms.values())
        summary = dict(parts_ms=ms, share_pct={k: 100 * v / total for k, v in ms.items()})
        if self.mask_rois:
            summary['mask_rois_per_image'] = statistics.median(self.mask_rois) / self.batch
        if self.last_loss is not None:
            summary['last_loss'] = self.last_loss.item()
            if not math.isfinite(summary['last_loss']):  # NaN / inf can change the speed
                print(f'warning: {self.cfg.filename}: the loss of the last step is not finite')
        return summary

    def train_step(self) -> Dict[str, float]:
        timer = self.timer
        timer.reset()
        start = timer.now()
        losses = self.model.loss(self.inputs, self.samples)
        forward_end = timer.now()
        loss, _ = self.model.parse_losses(losses)
        self.last_loss = loss.detach()
        backward_start = timer.now()
        self.optim_wrapper.backward(loss)
        backward_end = timer.now()
        self.optim_wrapper.step()
        self.optim_wrapper.zero_grad()
        end = timer.now()
        # a part whose outputs got no gradient (all frozen) has no backward
        neck_reached = timer.grad_reached.get('neck', backward_end)
        backbone_reached = max(timer.grad_reached.get('backbone', backward_end), neck_reached)
        forward = timer.forward_seconds
        return dict(
            backbone_fwd=forward['backbone'], neck_fwd=forward['neck'],
            heads_fwd=forward_end - start - forward['backbone'] - forward['neck'],
            heads_bwd=neck_reached - backward_start,
            neck_bwd=backbone_reached - neck_reached,
            backbone_bwd=backward_end - backbone_reached,
            optimizer=end - backward_end,
            other=backward_start - forward_end)  # summing the losses

    @torch.no_grad()
    def predict(self) -> Dict[str, float]:
        timer = self.timer
        timer.reset()
        start = timer.now()
        self.model.predict(self.inputs, self.samples)
        end = timer.now()
        forward = timer.forward_seconds
        return dict(backbone_fwd=forward['backbone'], neck_fwd=forward['neck'],
                    heads_fwd=end - start - forward['backbone'] - forward['neck'])


def first_iteration_lr(optim_wrapper, cfg: Config):
    """Set the learning rate the recipe's first iteration uses: building a scheduler applies its
    value at step 0 (e.g. mmdet's LinearLR warm-up from 0.001 x lr)."""
    from mmengine.registry import PARAM_SCHEDULERS
    schedulers = cfg.get('param_scheduler') or []
    for scheduler in schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]:
        PARAM_SCHEDULERS.build(dict(scheduler, optimizer=optim_wrapper))


def share_cells(row: dict, train: bool) -> Dict[str, str]:
    """The share table's cells of one row, by column title."""
    pct, parts = row['share_pct'], ('backbone', 'neck', 'heads')
    cells = {'sum of parts (ms)': f'{sum(row["parts_ms"].values()):.1f}'}
    for part in parts:
        cells[f'{part} %'] = f'{pct[f"{part}_fwd"] + pct.get(f"{part}_bwd", 0.):.1f}'
    if train:
        cells['optimizer %'] = f'{pct["optimizer"]:.1f}'
        cells['other %'] = f'{pct["other"]:.1f}'
        for part in parts:
            cells[f'{part} fwd / bwd %'] = f'{pct[f"{part}_fwd"]:.1f} / {pct[f"{part}_bwd"]:.1f}'
    if 'mask_rois_per_image' in row:
        cells['mask RoIs / image'] = f'{row["mask_rois_per_image"]:.0f}'
    cells['built from'] = f'{row["structure"]["config"]} ({row["structure"]["backbone"]})'
    return cells


def print_share_table(setting: str, rows: List[dict], train: bool):
    """Where each model's unit of work goes: backbone, neck, heads (and optimizer, other)."""
    print(f'\n### where the time goes, {setting}: each part\'s median ms over the rounds, as % '
          'of their sum' + ('; backbone, neck, heads = forward + backward' if train else ''))
    cells = [share_cells(r, train) for r in rows]
    titles = list(dict.fromkeys(title for row in cells for title in row))
    print('| model | ' + ' | '.join(titles) + ' |')
    print('|---|' + '---:|' * (len(titles) - 1) + '---|')
    for r, row in zip(rows, cells):
        print(f'| {r["model"]} | ' + ' | '.join(row.get(t, '') for t in titles) + ' |')
    sys.stdout.flush()
