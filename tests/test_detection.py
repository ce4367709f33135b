"""mmdet: the COCO experiment configs, the launchers and the built-in digits demo."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

from .conftest import REPO_ROOT
from .test_classification import shallow_arch
from .utils import assert_same_training_state, killer_config, python_tool, run, run_killed

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'detection')
EXPERIMENTS = sorted(osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*_coco.py')))
DEMO = 'configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py'
# a few images of the demo split: enough for a real step of each tool, fast on a CPU
SHORT_RUN = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
             'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=2',
             'val_dataloader.dataset.indices=4', 'test_dataloader.dataset.indices=4',
             'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
             'test_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
             'val_dataloader.persistent_workers=False', 'test_dataloader.persistent_workers=False']


def build_detector(cfg):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import raftmlp_mm  # noqa: F401  (what custom_imports does)
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model)


def test_the_eight_seed_experiments_exist():
    expected = {f'{det}_{arch}_fpn_1x_coco.py' for det in ('maskrcnn', 'retinanet')
                for arch in ('org_mixer', 'raftmlp_s', 'raftmlp_m', 'raftmlp_l')}
    assert set(EXPERIMENTS) == expected


# RaftMLP-S and org-mixer (its pyramid adapter) step at full depth; M and L with one block per
# level (same widths, grids and embeddings: what the neck and heads see), full depth in test-all
FULL_DEPTH_BY_DEFAULT = ('raftmlp_s', 'org_mixer')


def coco_cases():
    for name in EXPERIMENTS:
        if any(arch in name for arch in FULL_DEPTH_BY_DEFAULT):
            yield pytest.param(name, True)
        else:
            yield pytest.param(name, False)
            yield pytest.param(name, True, marks=pytest.mark.slow)


@pytest.mark.parametrize('name,full_depth', coco_cases())
def test_coco_config_trains_and_predicts(name, full_depth, own_random_state):
    from mmdet.testing import demo_mm_inputs
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    assert cfg.default_scope == 'mmdet' and cfg.custom_imports.imports == ['raftmlp_mm']
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    cfg.model.backbone.init_cfg = None  # a random backbone instead of the ImageNet checkpoint
    if not full_depth:
        cfg.model.backbone.arch = shallow_arch(cfg.model.backbone.arch)
    with_mask = name.startswith('maskrcnn')
    # keep every detection (a random model's scores are low): the predictions are checked
    # whatever the weights are, never skipped
    test_cfg = cfg.model.test_cfg.rcnn if with_mask else cfg.model.test_cfg
    test_cfg.score_thr = 0.0
    torch.manual_seed(0)
    model = build_detector(cfg)

    # the features have the strides and channels the neck and heads are built for
    backbone = model.backbone
    assert backbone.out_strides == [4, 8, 16, 32]
    assert list(cfg.model.neck.in_channels) == backbone.out_channels

    shapes = [(320, 416), (256, 352)]
    packed = demo_mm_inputs(2, [[3, *shape] for shape in shapes], num_items=[3, 2],
                            num_classes=80, with_mask=with_mask)
    model.train()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))
    before = backbone.levels[0].patch_embed.bias.detach().clone()
    losses = model.train_step(packed, optim)
    assert all(torch.isfinite(v) for k, v in losses.items() if 'loss' in k)
    assert not torch.equal(before, backbone.levels[0].patch_embed.bias)

    model.eval()
    for sample in packed['data_samples']:
        sample.set_metainfo(dict(scale_factor=(1.0, 1.0)))  # predictions in input pixels
    with torch.no_grad():
        results = model.val_step(packed)
    assert len(results) == 2
    for result, (h, w) in zip(results, shapes):
        pred = result.pred_instances
        assert len(pred) == test_cfg.max_per_img == 100
        boxes = pred.bboxes
        assert boxes.shape == (100, 4) and torch.isfinite(boxes).all()
        x1, y1, x2, y2 = boxes.unbind(1)
        assert ((0 <= x1) & (x1 <= x2) & (x2 <= w)).all(), boxes  # inside the image
        assert ((0 <= y1) & (y1 <= y2) & (y2 <= h)).all(), boxes
        assert ((0 <= pred.scores) & (pred.scores <= 1)).all()
        assert ((0 <= pred.labels) & (pred.labels < 80)).all()
        if with_mask:
            assert pred.masks.shape == (100, h, w) and pred.masks.dtype == torch.bool


def test_mmpretrain_checkpoint_loads_into_detector_backbone(tmp_path):
    """What classification training writes is what detection configs load (prefix backbone.)."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = PRETRAIN_MODELS.build(dict(
            type='ImageClassifier', backbone=dict(type='raftmlp_mm.RaftMLP', arch='small'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=1000, in_channels=512)))
    checkpoint = tmp_path / 'raftmlp_s_in1k.pth'
    torch.save(dict(state_dict=classifier.state_dict(), meta=dict(epoch=305)), checkpoint)

    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'maskrcnn_raftmlp_s_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    detector = build_detector(cfg)
    detector.init_weights()
    source = {k[len('backbone.'):]: v for k, v in classifier.state_dict().items()
              if k.startswith('backbone.')}
    target = detector.backbone.state_dict()
    assert set(source) == set(target)  # no missing, no unexpected backbone keys
    for key, value in source.items():
        assert torch.equal(value, target[key]), key


def test_missing_pretrained_checkpoint_fails_at_start_with_the_fix(tmp_path):
    config = 'configs/detection/maskrcnn_raftmlp_s_fpn_1x_coco.py'
    with pytest.raises(AssertionError) as failure:
        python_tool('tools/train.py', config, '--work-dir', tmp_path / 'wd')
    message = str(failure.value)
    assert 'checkpoints/raftmlp_s_8xb256_in1k.pth does not exist' in message
    assert 'tools/model_converters/raftmlp_to_mmpretrain.py' in message
    assert 'model.backbone.init_cfg=None' in message
    assert not (tmp_path / 'wd').exists() or not glob.glob(str(tmp_path / 'wd' / '*.pth'))


def last_metrics(work_dir):
    """Validation metrics of the newest run in an MMEngine work dir."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    records = [json.loads(line) for line in open(files[-1]) if line.strip()]
    return [r for r in records if 'coco/bbox_mAP' in r][-1]


def coco_results(prefix):
    """The detections CocoMetric dumped (``outfile_prefix``): boxes, scores, classes, masks."""
    return {kind: json.load(open(f'{prefix}.{kind}.json')) for kind in ('bbox', 'segm')}


def test_detection_sh_two_gloo_processes_then_test_py(digits_canvas, tmp_path):
    work_dir = tmp_path / 'det'
    # batches of one image at evaluation, so a prediction is computed the same way in every
    # process layout; CocoMetric dumps what it scored
    one_by_one = ['val_dataloader.batch_size=1', 'test_dataloader.batch_size=1']
    run(['bash', 'detection.sh', DEMO, '2', '--work-dir', work_dir,
         '--cfg-options', *SHORT_RUN, *one_by_one,
         f'val_evaluator.outfile_prefix={tmp_path / "val"}'])
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    state = torch.load(checkpoint, map_location='cpu')['state_dict']
    assert any(k.startswith('backbone.levels.') for k in state)
    [log_dir] = glob.glob(str(work_dir / '2*'))
    log = open(glob.glob(osp.join(log_dir, '*.log'))[0]).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert json.load(open(osp.join(log_dir, 'run_info.json')))['world_size'] == 2
    # 8 images in batches of 2 over 2 processes: 2 iterations each
    assert 'Epoch(train) [1][2/2]' in log and 'Epoch(train) [1][3/' not in log
    val = last_metrics(work_dir)

    result = python_tool('tools/test.py', DEMO, checkpoint, '--work-dir', tmp_path / 'eval',
                         '--cfg-options', *SHORT_RUN[4:], *one_by_one,
                         f'test_evaluator.outfile_prefix={tmp_path / "test"}')
    metrics = eval(result.stdout.strip().splitlines()[-1])  # the dict test.py prints
    for name in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert isinstance(metrics[name], float) and 0 <= metrics[name] <= 1, metrics
        assert metrics[name] == round(val[name], 4), (metrics, val)
    # the same checkpoint on the same 4 images: the run's own evaluation (2 processes) and
    # test.py (1 process) scored the same detections
    expected, actual = coco_results(tmp_path / 'val'), coco_results(tmp_path / 'test')
    assert len(expected['bbox']) > 0 and {r['image_id'] for r in expected['bbox']} == \
        {r['image_id'] for r in actual['bbox']}
    assert actual == expected


@pytest.mark.slow
@pytest.mark.timeout(4800)  # 7.8-10.8 min of training on 2 AVX-512 cores; pytest.ini gives 900 s
def test_demo_learns_to_detect_digits(digits_canvas, tmp_path):
    work_dir = tmp_path / 'demo'
    run(['bash', 'detection.sh', DEMO, '1', '--work-dir', work_dir], timeout=3600)
    metrics = last_metrics(work_dir)
    # measured 0.777-0.801 bbox, 0.816-0.838 segm (docs/detection.md); chance-level detections
    # score about 0
    assert metrics['coco/bbox_mAP'] > 0.4, metrics
    assert metrics['coco/segm_mAP'] > 0.4, metrics


@pytest.mark.slow  # three Mask R-CNN runs (about 140 s); tests/test_resume.py runs the same
# kill-and-resume under mim train mmpretrain in the default suite
def test_mim_train_mmdet_killed_mid_epoch_resumes_to_the_train_tools_run(digits_canvas,
                                                                         tmp_path):
    """mmdet's own tools/train.py (through mim) runs the config's seeded loop and atomic
    checkpoints: killed after iteration 7 of 8 and resumed, it ends where our tool's
    uninterrupted run does, bit for bit (Mask R-CNN: RPN sampling, RoIAlign, mask head)."""
    options = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=100',
               'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=2',
               'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
               'default_hooks.logger.interval=1', 'default_hooks.checkpoint.by_epoch=False',
               'default_hooks.checkpoint.interval=3', 'default_hooks.checkpoint.max_keep_ckpts=-1',
               'randomness.seed=3']
    python_tool('tools/train.py', DEMO, '--work-dir', tmp_path / 'reference',
                '--cfg-options', *options)
    kill = killer_config(tmp_path, "dict(type='tests.killers.KillAfterIteration', iteration=7)",
                         DEMO)
    mim = ['mim', 'train', 'mmdet', '--gpus', '0', '--launcher', 'none',
           '--work-dir', tmp_path / 'wd']
    run_killed(mim[:3] + [kill] + mim[3:] + ['--cfg-options', *options])
    assert (tmp_path / 'wd' / 'iter_6.pth').is_file()
    assert not (tmp_path / 'wd' / 'iter_8.pth').exists()
    result = run(mim[:3] + [DEMO] + mim[3:] + ['--resume', '--cfg-options', *options])
    assert 'resuming mid-epoch: skipping the 2 batches of epoch 2' in result.stdout
    assert_same_training_state(tmp_path / 'reference' / 'iter_8.pth',
                               tmp_path / 'wd' / 'iter_8.pth')
