"""Every experiment config trains with the paper's recipe: one row per config, written out.

The expected values are the original implementation's (docs/classification.md "The recipes",
docs/detection.md, docs/segmentation.md and the configs' own comments), typed in here by hand:
nothing below is read from the configs except the values under test. The documented
departures are in the rows as they are: warm-up from 1e-6 x lr instead of 0 (MMEngine's
LinearLR cannot start at 0), mmdet's warm-up from 0.001 x lr.

Columns (schedules run per iteration unless a decay says 'epoch'):
  lr, weight decay (on every parameter: no paramwise_cfg)
  length: (n, 'epoch' | 'iter')
  warm-up: (length, unit, start factor) or None
  decay: ('cosine', eta_min) | ('step', milestones (epochs), gamma) | ('poly', power, eta_min)
  Mixup alpha, CutMix alpha (both on every batch), label smoothing, random erasing probability
  drop path, batch per GPU, global batch (auto_scale_lr.base_batch_size), seed
"""
import glob
import os.path as osp
from functools import lru_cache

import pytest
from mmengine.config import Config

from .conftest import REPO_ROOT

IN1K = 'classification/{}_8xb256_in1k.py'
FT = 'classification/finetune/{}.py'
# imagenet: 305 epochs = 5 warm-up + 300 cosine to 1e-5; fine-tuning: 50 = 10 + 40
RECIPES = [
    # config
    #   lr, wd, length, warm-up, decay
    #   mixup, cutmix, smoothing, erasing, drop path, batch/GPU, global batch, seed
    (IN1K.format('raftmlp_s'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    (IN1K.format('raftmlp_m'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    (IN1K.format('raftmlp_l'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    (IN1K.format('org_mixer'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    (IN1K.format('raftmlp_r1'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    (IN1K.format('raftmlp_r2'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    (IN1K.format('raftmlp_r4'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    (IN1K.format('raftmlp_hierarchy_m'),
     2e-3, 0.05, (305, 'epoch'), (5, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.25, 0.1, 256, 2048, 42),
    # transfer learning: no random erasing, no drop path, 8 GPUs x 32
    (FT.format('cifar10_org_mixer'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cifar10_raftmlp_s'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cifar10_raftmlp_m'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cifar10_raftmlp_l'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cifar100_org_mixer'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cifar100_raftmlp_s'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cifar100_raftmlp_m'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cifar100_raftmlp_l'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('flowers102_org_mixer'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('flowers102_raftmlp_s'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('flowers102_raftmlp_m'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('flowers102_raftmlp_l'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cars_org_mixer'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cars_raftmlp_s'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cars_raftmlp_m'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('cars_raftmlp_l'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat18_org_mixer'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat18_raftmlp_s'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat18_raftmlp_m'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat18_raftmlp_l'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat19_org_mixer'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat19_raftmlp_s'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat19_raftmlp_m'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    (FT.format('inat19_raftmlp_l'),
     1e-4, 1e-4, (50, 'epoch'), (10, 'epoch', 1e-6), ('cosine', 1e-5),
     0.8, 0.8, 0.1, 0.0, 0.0, 32, 256, 42),
    # COCO 1x: 12 epochs, steps at 8 and 11, 500-iteration warm-up, 8 GPUs x 2 images
    ('detection/maskrcnn_org_mixer_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    ('detection/maskrcnn_raftmlp_s_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    ('detection/maskrcnn_raftmlp_m_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    ('detection/maskrcnn_raftmlp_l_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    ('detection/retinanet_org_mixer_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    ('detection/retinanet_raftmlp_s_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    ('detection/retinanet_raftmlp_m_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    ('detection/retinanet_raftmlp_l_fpn_1x_coco.py',
     1e-4, 1e-4, (12, 'epoch'), (500, 'iter', 1e-3), ('step', [8, 11], 0.1),
     None, None, None, 0.0, 0.0, 2, 16, 42),
    # ADE20K Semantic FPN: 40k iterations, poly 0.9 to 0, no warm-up, 8 GPUs x 4 images
    ('segmentation/fpn_org_mixer_512x512_40k_ade20k.py',
     2e-4, 1e-4, (40000, 'iter'), None, ('poly', 0.9, 0.0),
     None, None, None, 0.0, 0.0, 4, 32, 42),
    ('segmentation/fpn_raftmlp_s_512x512_40k_ade20k.py',
     2e-4, 1e-4, (40000, 'iter'), None, ('poly', 0.9, 0.0),
     None, None, None, 0.0, 0.0, 4, 32, 42),
    ('segmentation/fpn_raftmlp_m_512x512_40k_ade20k.py',
     2e-4, 1e-4, (40000, 'iter'), None, ('poly', 0.9, 0.0),
     None, None, None, 0.0, 0.0, 4, 32, 42),
    ('segmentation/fpn_raftmlp_l_512x512_40k_ade20k.py',
     2e-4, 1e-4, (40000, 'iter'), None, ('poly', 0.9, 0.0),
     None, None, None, 0.0, 0.0, 4, 32, 42),
]
COLUMNS = ('lr', 'weight decay', 'length', 'warm-up', 'decay', 'mixup alpha', 'cutmix alpha',
           'label smoothing', 'random erasing', 'drop path', 'batch per GPU', 'global batch',
           'seed')

EXPERIMENT_CONFIGS = sorted(
    osp.relpath(path, osp.join(REPO_ROOT, 'configs'))
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if not {'_base_', 'demo'} & set(osp.relpath(path, REPO_ROOT).split(osp.sep)))


@pytest.fixture(scope='module', autouse=True)
def quick_host_base_lookup():
    """MMEngine resolves every ``mmdet::`` / ``mmseg::`` base by parsing all of the host's
    metafiles again (about 400 yaml files, seconds per config): read each one once."""
    import mmengine.config.utils as utils
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, 'load', lru_cache(maxsize=None)(utils.load))
        yield


def test_every_experiment_config_has_a_row():
    assert sorted(row[0] for row in RECIPES) == EXPERIMENT_CONFIGS
    assert len(EXPERIMENT_CONFIGS) == 32 + 8 + 4


def stepped_per(scheduler) -> str:
    return 'epoch' if scheduler.get('by_epoch', True) and \
        not scheduler.get('convert_to_iter_based', False) else 'iter'


def recipe_of(cfg):
    """The recipe columns, as the config sets them."""
    optim_wrapper = cfg.optim_wrapper
    assert optim_wrapper.optimizer.type == 'AdamW'
    assert not optim_wrapper.get('paramwise_cfg'), 'weight decay applies to every parameter'
    assert not optim_wrapper.get('clip_grad'), 'the original clips no gradients'
    if 'max_epochs' in cfg.train_cfg:
        length = (cfg.train_cfg.max_epochs, 'epoch')
    else:
        length = (cfg.train_cfg.max_iters, 'iter')

    warm_up, decay = None, None
    for scheduler in cfg.param_scheduler:
        # the decay starts where the warm-up ends (cosine) or with the run (steps, poly)
        start = warm_up[0] if scheduler.type == 'CosineAnnealingLR' else 0
        assert scheduler.begin == start, scheduler
        if scheduler.type == 'LinearLR':
            assert scheduler.get('end_factor', 1.0) == 1.0
            unit = 'epoch' if scheduler.get('by_epoch', True) else 'iter'
            warm_up = (scheduler.end, unit, scheduler.start_factor)
            assert stepped_per(scheduler) == 'iter'
        elif scheduler.type == 'CosineAnnealingLR':
            assert scheduler.end == length[0] and stepped_per(scheduler) == 'iter'
            decay = ('cosine', scheduler.eta_min)
        elif scheduler.type == 'MultiStepLR':
            assert scheduler.end == length[0] and stepped_per(scheduler) == 'epoch'
            decay = ('step', list(scheduler.milestones), scheduler.gamma)
        elif scheduler.type == 'PolyLR':
            assert scheduler.end == length[0] and stepped_per(scheduler) == 'iter'
            decay = ('poly', scheduler.power, scheduler.eta_min)
        else:
            raise AssertionError(f'unexpected scheduler {scheduler}')

    mixup = cutmix = smoothing = None
    preprocessor = cfg.get('data_preprocessor') or {}
    if preprocessor.get('batch_augments'):
        augment = preprocessor.batch_augments.augments
        assert augment.type == 'raftmlp_mm.SequentialMixupCutMix'  # both, on every batch
        mixup, cutmix = augment.mixup_alpha, augment.cutmix_alpha
    head = cfg.model.get('head')
    if head is not None:
        assert head.loss.type == 'LabelSmoothLoss' and head.loss.mode == 'original'
        smoothing = head.loss.label_smooth_val
    pipeline = cfg.train_dataloader.dataset.pipeline
    erasing = [t.erase_prob for t in pipeline if t.type == 'RandomErasing']
    assert len(erasing) <= 1
    return (optim_wrapper.optimizer.lr, optim_wrapper.optimizer.weight_decay, length, warm_up,
            decay, mixup, cutmix, smoothing, erasing[0] if erasing else 0.0,
            cfg.model.backbone.drop_path_rate, cfg.train_dataloader.batch_size,
            cfg.auto_scale_lr.base_batch_size, cfg.randomness.seed)


@pytest.mark.parametrize('row', RECIPES, ids=[row[0] for row in RECIPES])
def test_config_sets_the_papers_recipe(row):
    config, expected = row[0], row[1:]
    actual = recipe_of(Config.fromfile(osp.join(REPO_ROOT, 'configs', config)))
    differences = [f'{name}: config {a!r}, recipe {e!r}'
                   for name, a, e in zip(COLUMNS, actual, expected) if a != e]
    assert not differences, '\n'.join(differences)
    # the global batch the lr is set for is 8 GPUs x the per-GPU batch
    assert expected[-2] == 8 * expected[-3]
