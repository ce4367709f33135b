"""Semantic segmentation: the ADE20K Semantic FPN configs, the digits demo and the launchers."""
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from PIL import Image

from .conftest import REPO_ROOT
from .utils import python_tool, run

SEG_CONFIGS = osp.join(REPO_ROOT, 'configs', 'segmentation')
DEMO_CONFIG = 'configs/segmentation/demo/fpn_raftmlp_s_digits.py'
DIGITS_ROOT = osp.join(REPO_ROOT, 'data', 'digits_canvas')

# experiment -> (arch, FPN in_channels), as the paper's table
ADE20K_EXPERIMENTS = {
    'org_mixer': ('org-mixer', [768, 768, 768, 768]),
    'raftmlp_s': ('small', [64, 128, 256, 512]),
    'raftmlp_m': ('medium', [96, 192, 384, 768]),
    'raftmlp_l': ('large', [128, 192, 512, 1024]),
}


def ade20k_config(name: str) -> Config:
    return Config.fromfile(osp.join(SEG_CONFIGS, f'fpn_{name}_512x512_40k_ade20k.py'))


def build_segmentor(model_cfg):
    import raftmlp_mm  # noqa: F401  (what the config's custom_imports does)
    init_default_scope('mmseg')
    from mmseg.registry import MODELS
    return MODELS.build(model_cfg)


def seg_batch(sizes, num_classes, with_labels=True):
    """Packed inputs as the dataloader gives them: uint8 BGR images and SegDataSamples."""
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for h, w in sizes:
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        if with_labels:
            labels = torch.randint(0, num_classes, (1, h, w), generator=g)
            sample.gt_sem_seg = PixelData(data=labels)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('name', sorted(ADE20K_EXPERIMENTS))
def test_ade20k_config_follows_the_paper_recipe(name):
    cfg = ade20k_config(name)
    arch, in_channels = ADE20K_EXPERIMENTS[name]
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports.imports == ['raftmlp_mm']
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.arch, backbone.img_size) == ('raftmlp_mm.RaftMLP', arch, 224)
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=cfg.pretrained,
                                     prefix='backbone.')
    assert cfg.model.neck.in_channels == in_channels
    head = cfg.model.decode_head
    assert (head.type, head.num_classes, head.norm_cfg.type) == ('FPNHead', 150, 'SyncBN')
    assert head.feature_strides == [4, 8, 16, 32]
    assert cfg.model.test_cfg.mode == 'whole'
    # AdamW 2e-4 / wd 1e-4, poly 0.9 to 0 over 40k iterations, no warm-up, mIoU every 4k
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=2e-4, weight_decay=1e-4)
    assert len(cfg.param_scheduler) == 1
    poly = cfg.param_scheduler[0]
    assert (poly.type, poly.power, poly.eta_min, poly.end) == ('PolyLR', 0.9, 0., 40000)
    assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (40000, 4000)
    assert cfg.val_evaluator.iou_metrics == ['mIoU']
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.randomness.seed == 42
    # ADE20K 512x512 crops with the zero label dropped, whole test images of a 512 short side
    train_ops = {t.type: t for t in cfg.train_pipeline}
    test_ops = {t.type: t for t in cfg.test_pipeline}
    assert train_ops['RandomCrop'].crop_size == (512, 512) == cfg.model.data_preprocessor.size
    assert train_ops['LoadAnnotations'].reduce_zero_label
    assert test_ops['LoadAnnotations'].reduce_zero_label
    assert test_ops['Resize'].scale == (2048, 512)
    assert 'ResizeToMultiple' not in test_ops  # the backbone takes any size
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'


@pytest.mark.parametrize('name', sorted(ADE20K_EXPERIMENTS))
def test_ade20k_model_trains_a_step_and_predicts_a_whole_odd_sized_image(name):
    cfg = ade20k_config(name)
    cfg.model.backbone.init_cfg = None  # no ImageNet checkpoint on CI
    cfg.model.decode_head.norm_cfg = dict(type='BN', requires_grad=True)  # the CPU override
    cfg.model.data_preprocessor.size = (64, 64)  # pad training batches to 64, not 512
    model = build_segmentor(cfg.model)
    assert model.backbone.out_channels == cfg.model.neck.in_channels
    assert model.backbone.out_strides == [4, 8, 16, 32]

    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    first_block = next(model.backbone.levels[0].blocks.parameters())
    before = first_block.detach().clone()
    model.train()
    log_vars = model.train_step(seg_batch([(64, 64)] * 2, num_classes=150), optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(before, first_block)  # gradients reached the backbone

    # whole-image inference: a 96x136 image reaches the backbone as it is (not padded to 32s)
    seen = []
    model.backbone.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    model.eval()
    with torch.no_grad():
        preds = model.test_step(seg_batch([(96, 136)], num_classes=150, with_labels=False))
    assert seen == [torch.Size([1, 3, 96, 136])]
    assert preds[0].seg_logits.data.shape == (150, 96, 136)
    pred = preds[0].pred_sem_seg.data
    assert pred.shape == (1, 96, 136) and 0 <= pred.min() and pred.max() < 150


def test_ade20k_backbone_loads_an_mmpretrain_checkpoint_by_prefix(tmp_path):
    """An mmpretrain classifier checkpoint fills every backbone weight, with no key left over."""
    from raftmlp_mm.models import RaftMLP
    classifier_backbone = RaftMLP(arch='small')
    state = {f'backbone.{k}': v for k, v in classifier_backbone.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(1000, 512)
    state['head.fc.bias'] = torch.zeros(1000)
    checkpoint = str(tmp_path / 'raftmlp_s_in1k.pth')
    torch.save(dict(state_dict=state, meta=dict()), checkpoint)

    cfg = ade20k_config('raftmlp_s')
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    cfg.model.decode_head.norm_cfg = dict(type='BN', requires_grad=True)
    model = build_segmentor(cfg.model)
    assert set(model.backbone.state_dict()) == {k[len('backbone.'):] for k in state
                                                if k.startswith('backbone.')}
    model.init_weights()
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, state[f'backbone.{key}']), key


def test_digits_seg_dataset_reads_the_ade20k_layout():
    python_tool('tools/misc/make_digits.py')  # no-op when data/ is already complete
    from mmengine.registry import DATASETS

    import raftmlp_mm.datasets  # noqa: F401
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='raftmlp_mm.DigitsSegDataset', data_root=DIGITS_ROOT,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')]))
    assert len(dataset) == len(glob.glob(osp.join(DIGITS_ROOT, 'images/validation/*.jpg'))) > 0
    assert dataset.metainfo['classes'][:2] == ('background', '0')
    assert len(dataset.metainfo['classes']) == 11
    sample = dataset[0]['data_samples']
    labels = sample.gt_sem_seg.data.unique().tolist()
    assert 0 in labels  # background kept as a class, not dropped to 255
    assert max(labels) <= 10 and 255 not in labels


def background_only_miou(split='validation') -> float:
    """mIoU (%) of predicting background everywhere: the floor a trained model must beat."""
    counts = np.zeros(11, np.int64)
    for path in glob.glob(osp.join(DIGITS_ROOT, 'annotations', split, '*.png')):
        counts += np.bincount(np.asarray(Image.open(path)).ravel(), minlength=11)
    background_iou = counts[0] / counts.sum()  # the other present classes score IoU 0
    return 100 * background_iou / np.count_nonzero(counts)


def final_miou(log_text: str) -> float:
    values = re.findall(r'mIoU: ([0-9.]+)', log_text)
    assert values, 'no mIoU in the log'
    return float(values[-1])


# 4 iterations of 2 images, no validation during training (val_begin after the end)
SHORT_RUN = ['train_cfg.max_iters=4', 'train_cfg.val_begin=100',
             'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=1',
             'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False']


def test_segmentation_sh_trains_with_2_processes_and_test_py_scores_miou(tmp_path):
    python_tool('tools/misc/make_digits.py')
    work_dir = tmp_path / 'work'
    run(['bash', 'segmentation.sh', DEMO_CONFIG, 2, '--work-dir', work_dir,
         '--cfg-options', *SHORT_RUN], timeout=600)
    log = open(glob.glob(str(work_dir / '*' / '*.log'))[0]).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # world size 2
    assert "dist_cfg: {'backend': 'gloo'}" in log and 'Iter(train) [4/4]' in log
    checkpoint = work_dir / 'iter_4.pth'
    assert checkpoint.is_file()

    eval_options = ['--cfg-options', 'test_dataloader.num_workers=0',
                    'test_dataloader.persistent_workers=False', 'test_dataloader.dataset.indices=8']
    result = python_tool('tools/test.py', DEMO_CONFIG, checkpoint, '--work-dir',
                         tmp_path / 'test', *eval_options)
    metrics = eval(result.stdout.strip().splitlines()[-1])  # the dict test.py prints
    assert 0 <= metrics['mIoU'] <= 100 and 0 <= metrics['aAcc'] <= 100
    assert '| background |' in result.stdout + result.stderr  # IoUMetric's per-class table

    # the same evaluation split over 2 processes gives the same mIoU
    result = run(['bash', 'tools/dist_test.sh', DEMO_CONFIG, checkpoint, 2, '--work-dir',
                  tmp_path / 'dist_test', *eval_options])
    dist_mious = re.findall(r"'mIoU': ([0-9.]+)", result.stdout)
    assert dist_mious and all(float(v) == metrics['mIoU'] for v in dist_mious)


def test_mim_train_mmseg_runs_the_demo_config(tmp_path):
    python_tool('tools/misc/make_digits.py')
    mim = osp.join(osp.dirname(__import__('sys').executable), 'mim')
    work_dir = tmp_path / 'mim'
    run([mim, 'train', 'mmseg', DEMO_CONFIG, '--work-dir', work_dir,
         '--cfg-options', *SHORT_RUN], timeout=600)
    assert (work_dir / 'iter_4.pth').is_file()
    log = open(glob.glob(str(work_dir / '*' / '*.log'))[0]).read()
    assert 'Iter(train) [4/4]' in log


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_digits_demo_learns_to_segment(tmp_path):
    python_tool('tools/misc/make_digits.py')
    baseline = background_only_miou()
    python_tool('tools/train.py', DEMO_CONFIG, '--work-dir', tmp_path, timeout=3000)
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    miou = final_miou(log)
    assert miou > baseline + 25, f'mIoU {miou:.2f} vs background-only {baseline:.2f}'
