"""Training behaviours a user relies on: the demo learns, frozen levels stay frozen under a
Runner, batch size 1, one-channel images, batch independence, --auto-scale-lr, the FLOPs tool.

The Runner runs here are in-process and a few iterations long; the one real learning check
(one epoch of the classification digits demo through tools/train.py) is shared, through a
checkpoint cached in pytest's base temp dir, with tests/test_launchers.py, which evaluates it
with every test launcher.
"""
import glob
import json
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from raftmlp_mm.models import RaftMLP

from .conftest import REPO_ROOT
from .utils import load_tool, python_tool

# seeds set here must not change what later test files draw
pytestmark = pytest.mark.usefixtures('own_random_state')

CLS_DEMO = 'configs/classification/demo/raftmlp_s_digits.py'
DET_DEMO = 'configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py'
NO_WORKERS = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
              'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False']


# ---- the demo learns --------------------------------------------------------------------------

def val_top1(work_dir):
    """Validation top-1 of every epoch, as the run logged it (full precision)."""
    [scalars] = glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))
    records = [json.loads(line) for line in open(scalars)]
    return [r['accuracy/top1'] for r in records if 'accuracy/top1' in r]


def digits_demo_one_epoch(tmp_path_factory):
    """One epoch (45 iterations of 32) of the classification digits demo, from scratch, through
    tools/train.py: the work dir with epoch_1.pth. Trained once per session (cached in pytest's
    base temp dir) and shared with tests/test_launchers.py."""
    from raftmlp_mm.datasets import write_classification
    write_classification(osp.join(REPO_ROOT, 'data', 'digits_cls'))  # the `digits` fixture
    work_dir = tmp_path_factory.getbasetemp() / 'digits_demo_one_epoch'
    if not (work_dir / 'epoch_1.pth').is_file():
        python_tool('tools/train.py', CLS_DEMO, '--work-dir', work_dir, '--cfg-options',
                    'train_cfg.max_epochs=1', *NO_WORKERS)
    return work_dir


def test_one_epoch_of_the_digits_demo_is_far_above_chance(tmp_path_factory):
    """The held-out split (359 digits never trained on): chance is 10%. Measured 84.7%; with
    the optimizer step disabled the same run scored 6.4%."""
    work_dir = digits_demo_one_epoch(tmp_path_factory)
    [top1] = val_top1(work_dir)
    assert top1 > 60, f'one epoch reached only {top1:.1f}% top-1 on held-out digits'


# ---- frozen_stages under a Runner -------------------------------------------------------------

class Snapshot(Hook):
    """The weights after the Runner's weight init (before the first step), and which backbone
    modules are in training mode during each iteration."""

    def before_train(self, runner):
        self.before = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
        self.training = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.training.append({name: module.training
                              for name, module in runner.model.named_modules()})


# one epoch, no validation, data loaded in the main process
ONE_EPOCH = {'train_cfg.max_epochs': 1, 'train_cfg.val_begin': 9,
             'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False}


def quick_runner(config, work_dir, monkeypatch, options):
    """The config's own Runner (loop, hooks, optimizer, data) for a few in-process steps."""
    # The Runner logs the config through yapf (seconds per config); the plain text is enough.
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: self.text))
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    cfg.merge_from_dict(options)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'{osp.basename(str(work_dir))}_{id(cfg)}'  # one logger per run
    return Runner.from_cfg(cfg)


def train_one_epoch(config, work_dir, monkeypatch, options):
    """One epoch of the config's Runner with ``options``; returns it and its Snapshot."""
    runner = quick_runner(config, work_dir, monkeypatch, dict(ONE_EPOCH, **options))
    snapshot = Snapshot()
    runner.register_hook(snapshot, priority='VERY_LOW')
    runner.train()
    return runner, snapshot


def changed(before, after, prefix):
    keys = [k for k in before if k.startswith(prefix)]
    assert keys, prefix
    return {k: not torch.equal(before[k], after[k]) for k in keys}


def test_frozen_stages_stay_unchanged_through_runner_training(digits, tmp_path, monkeypatch):
    """frozen_stages=2 under the demo's Runner: AdamW with weight decay, 2 steps, drop-path.
    Levels 0-1 keep their weights bit for bit and stay in eval mode; levels 2-3, the final norm
    and the head all move."""
    runner, snapshot = train_one_epoch(CLS_DEMO, tmp_path, monkeypatch, {
        'model.backbone.frozen_stages': 2, 'train_dataloader.dataset.indices': 64})
    assert runner.iter == 2
    after = runner.model.state_dict()
    for level in (0, 1):
        moved = changed(snapshot.before, after, f'backbone.levels.{level}.')
        assert not any(moved.values()), [k for k, v in moved.items() if v]
    for prefix in ('backbone.levels.2.', 'backbone.levels.3.', 'backbone.norm.', 'head.'):
        moved = changed(snapshot.before, after, prefix)
        assert all(moved.values()), [k for k, v in moved.items() if not v]
    for modes in snapshot.training:
        assert modes['backbone'] and modes['backbone.levels.2'] and modes['head']
        assert not any(v for k, v in modes.items() if k.startswith(('backbone.levels.0',
                                                                    'backbone.levels.1')))


@pytest.mark.parametrize('frozen_stages', [4, 9])
def test_frozen_stages_covering_every_level_freeze_the_whole_backbone(frozen_stages):
    """RaftMLP-S has 4 levels: freezing 4 or more freezes every backbone weight (the final norm
    too), the levels stay in eval mode under train(), and a classifier step moves the head only."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='raftmlp_mm.RaftMLP', arch='small', img_size=32,
                          drop_path_rate=0.1, frozen_stages=frozen_stages),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=512)))
    model.train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    # every level in eval mode (drop-path off); the final norm is a LayerNorm, mode-free
    assert not any(m.training for n, m in model.backbone.named_modules()
                   if n.startswith('levels.'))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05))
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8) for _ in range(4)],
                data_samples=[DataSample().set_gt_label(i) for i in range(4)])
    model.train_step(data, optim)
    after = model.state_dict()
    assert not any(changed(before, after, 'backbone.').values())
    assert all(changed(before, after, 'head.').values())


# ---- batch size 1 -----------------------------------------------------------------------------

def test_classifier_demo_trains_at_batch_size_one(digits, tmp_path, monkeypatch):
    runner, snapshot = train_one_epoch(CLS_DEMO, tmp_path, monkeypatch, {
        'train_dataloader.batch_size': 1, 'train_dataloader.dataset.indices': 2})
    assert runner.iter == 2
    assert torch.isfinite(torch.tensor(runner.message_hub.get_scalar('train/loss').current()))
    assert all(changed(snapshot.before, runner.model.state_dict(), 'backbone.levels.0.').values())


def test_imagenet_recipe_step_at_batch_size_one_mixes_the_image_with_itself():
    """The ImageNet config's model and batch augments (Mixup then CutMix, label smoothing) on
    one 224x224 image: the permutation of one image is itself, the label stays one-hot-smoothed
    to the same class, and the step trains."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/classification/raftmlp_s_8xb256_in1k.py'))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        cfg.model.data_preprocessor = cfg.data_preprocessor
        model = MODELS.build(cfg.model)
    data = dict(inputs=[torch.randint(0, 255, (3, 224, 224), dtype=torch.uint8)],
                data_samples=[DataSample().set_gt_label(3)])
    packed = model.data_preprocessor(data, True)
    score = packed['data_samples'][0].gt_score
    assert score.shape == (1000, ) and score.argmax() == 3 and score[3] == 1
    before = model.backbone.state_dict()['levels.0.patch_embed.bias'].clone()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05))
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(before, model.backbone.state_dict()['levels.0.patch_embed.bias'])


def test_detector_demo_trains_at_batch_size_one(digits_canvas, tmp_path, monkeypatch):
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    runner, snapshot = train_one_epoch(DET_DEMO, tmp_path, monkeypatch, {
        'train_dataloader.batch_size': 1, 'train_dataloader.dataset.indices': 1})
    assert runner.iter == 1
    hub = runner.message_hub
    for name in ('loss', 'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'):
        assert torch.isfinite(torch.tensor(hub.get_scalar(f'train/{name}').current())), name
    after = runner.model.state_dict()
    for prefix in ('backbone.levels.0.', 'neck.', 'rpn_head.', 'roi_head.mask_head.'):
        assert any(changed(snapshot.before, after, prefix).values()), prefix


# ---- inputs -----------------------------------------------------------------------------------

@pytest.mark.parametrize('size', [(32, 32), (40, 56)])
def test_one_channel_images_run_forward_and_backward(size):
    torch.manual_seed(0)
    model = RaftMLP(arch='small', img_size=32, in_channels=1, out_indices=(0, 1, 2, 3))
    x = torch.randn(2, 1, *size, requires_grad=True)
    outs = model(x)
    h, w = size
    expected = [(2, c, -(-h // s), -(-w // s)) for c, s in zip(model.out_channels,
                                                               model.out_strides)]
    assert [tuple(o.shape) for o in outs] == expected
    assert model.out_channels == [64, 128, 256, 512] and model.out_strides == [4, 8, 16, 32]
    assert all(torch.isfinite(o).all() for o in outs)
    assert not torch.allclose(outs[-1][0], outs[-1][1])  # two images, two results
    sum(o.sum() for o in outs).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize('arch,extra', [
    ('small', dict(out_indices=(0, 1, 2, 3))),
    # the single-level pyramid has BatchNorm: in eval mode it must use its running statistics
    ('org-mixer', dict(out_indices=(0, 1, 2, 3), pyramid_blocks=(3, 5, 7, 11))),
])
@pytest.mark.parametrize('size', [(32, 32), (48, 80)])
def test_an_images_features_do_not_depend_on_the_rest_of_its_batch(arch, extra, size):
    torch.manual_seed(0)
    model = RaftMLP(arch=arch, img_size=32, **extra)
    model.train()
    with torch.no_grad():  # move the BatchNorm running statistics off their initial values
        model(torch.randn(4, 3, 32, 32) * 3 + 1)
    model.eval()
    batch = torch.randn(4, 3, *size)
    with torch.no_grad():
        together = model(batch)
        for i in range(4):
            alone = model(batch[i:i + 1])
            for level, (a, t) in enumerate(zip(alone, together)):
                # float32 sums in another order (matmul blocking depends on the row count)
                torch.testing.assert_close(a[0], t[i], atol=1e-5 * t.abs().max().item(),
                                           rtol=0, msg=f'image {i}, output {level}')


# ---- --auto-scale-lr --------------------------------------------------------------------------

def tool(script):
    """A tool's main(argv), run in this process."""
    return load_tool(script).main


@pytest.mark.parametrize('batch,scale,expected_lr', [
    (16, True, 2e-3 * 16 / 32),
    (64, True, 2e-3 * 64 / 32),
    (16, False, 2e-3),
])
def test_auto_scale_lr_scales_the_logged_lr_by_the_actual_batch(digits, tmp_path, monkeypatch,
                                                                batch, scale, expected_lr):
    """The demo's lr 2e-3 is for its base batch of 32 (auto_scale_lr.base_batch_size); the lr
    schedule is removed so the logged lr is the optimizer's."""
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: self.text))
    work_dir = tmp_path / 'wd'
    tool('tools/train.py')([CLS_DEMO, '--work-dir', str(work_dir), *(['--auto-scale-lr'] * scale),
                            '--cfg-options', 'param_scheduler=[]', 'train_cfg.max_epochs=1',
                            'train_cfg.val_begin=9', f'train_dataloader.batch_size={batch}',
                            f'train_dataloader.dataset.indices={batch}',
                            'default_hooks.logger.interval=1', f'experiment_name=lr{batch}{scale}',
                            *NO_WORKERS[:2]])
    [scalars] = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    [record] = [json.loads(line) for line in open(scalars) if '"lr"' in line]
    assert record['iter'] == 1
    assert record['lr'] == pytest.approx(expected_lr, rel=1e-6)


# ---- the FLOPs tool ---------------------------------------------------------------------------

def test_get_flops_prints_the_readme_arch_table(capsys):
    tool('tools/analysis_tools/get_flops.py')([])
    rows = {m.group(1): (int(m.group(2).replace(',', '')), m.group(3))
            for m in re.finditer(r'^(\S+)\s+([\d,]+)\s+([\d.]+)G', capsys.readouterr().out,
                                 re.MULTILINE)}
    # README: RaftMLP-S with a 1000-class head, linear MACs at 224x224
    assert rows['small'] == (9_868_768, '2.09')
    readme = open(osp.join(REPO_ROOT, 'README.md')).read()
    table = {m.group(1): (int(m.group(2).replace(',', '')), m.group(3))
             for m in re.finditer(r'^\| `([\w-]+)` \| [^|]+ \| ([\d,]+) \| ([\d.]+) G \|', readme,
                                  re.MULTILINE)}
    assert len(table) == 8 and rows == table


# ---- the learning-curve plot ------------------------------------------------------------------

def test_learning_curve_shows_a_single_end_of_run_validation_on_an_epoch_axis_from_zero(tmp_path):
    """The detection demo validates once, after its last epoch (the picture make demo draws)."""
    plot_curve = load_tool('tools/analysis_tools/plot_curve.py')
    vis_data = tmp_path / 'wd' / '20260101_000000' / 'vis_data'
    vis_data.mkdir(parents=True)
    records = [dict(loss=3.0 - i / 10, iter=10 * i, epoch=1, step=10 * i) for i in range(1, 8)]
    records.append({'coco/bbox_mAP': 0.79, 'coco/segm_mAP': 0.81, 'step': 14})
    (vis_data / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
    fig = plot_curve.draw(plot_curve.read_scalars(str(tmp_path / 'wd')), 'wd')
    loss_ax, metric_ax = fig.axes
    assert list(loss_ax.lines[0].get_xdata()) == [10, 20, 30, 40, 50, 60, 70]
    assert list(metric_ax.lines[0].get_xdata()) == [14]
    assert list(metric_ax.lines[0].get_ydata()) == [0.79]
    assert metric_ax.get_ylabel() == 'val coco/bbox_mAP'
    assert metric_ax.get_xlim()[0] == 0 and metric_ax.get_xlim()[1] >= 14
    plot_curve.plt.close(fig)
    out = plot_curve.plot(str(tmp_path / 'wd'), str(tmp_path / 'curve.png'), 'coco/segm_mAP')
    assert osp.getsize(out) > 0
