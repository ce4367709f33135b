"""Bad input fails fast with the fix and leaves the work dir alone; NaN losses stop; CPU AMP."""
import contextlib
import glob
import io
import logging
import os.path as osp
import re
import sys
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from raftmlp_mm.engine.startup_checks import check_data_root, check_neck_channels
from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models import raftmlp as raftmlp_module

from .conftest import REPO_ROOT
from .utils import python_tool, run

# seeds set here must not change what later test files draw
pytestmark = pytest.mark.usefixtures('own_random_state')

CLS_DEMO = 'configs/classification/demo/raftmlp_s_digits.py'
DET_DEMO = 'configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py'
# 64 training images (2 iterations of 32), 32 val images, no worker processes
QUICK = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
         'train_dataloader.dataset.indices=[' + ','.join(str(i * 22) for i in range(64)) + ']',
         'val_dataloader.dataset.indices=32', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1']


def classifier(arch='small', img_size=32, init_cfg=None):
    from mmpretrain.registry import MODELS

    import raftmlp_mm  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='raftmlp_mm.RaftMLP', arch=arch, img_size=img_size,
                          init_cfg=init_cfg),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10,
                      in_channels=RaftMLP.arch_zoo[arch]['channels'][-1])))


def save_classifier(path, **kwargs):
    torch.save(dict(state_dict=classifier(**kwargs).state_dict()), path)
    return str(path)


# ---- a checkpoint of another variant or img_size -------------------------------------------

@pytest.mark.parametrize('saved,loaded,expect', [
    (dict(arch='small', img_size=32), dict(arch='small', img_size=64),
     # token-MLP widths: raft 2 x grid 8 at img_size 32, 2 x 16 at 64
     'levels.0.blocks.0.token_mixing.mlp_vertical.fc1.weight: checkpoint (32, 16), model (64, 32)'),
    (dict(arch='medium', img_size=32), dict(arch='small', img_size=32),
     'levels.0.patch_embed.bias: checkpoint (96,), model (64,)'),
])
def test_pretrained_backbone_of_another_variant_names_keys_and_shapes(
        tmp_path, saved, loaded, expect):
    checkpoint = save_classifier(tmp_path / 'other.pth', **saved)
    backbone = RaftMLP(**loaded, init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                                               prefix='backbone.'))
    before = backbone.levels[0].patch_embed.bias.detach().clone()
    with pytest.raises(ValueError) as failure:
        backbone.init_weights()
    message = str(failure.value)
    assert expect in message
    assert f"arch {loaded['arch']!r}, img_size {(loaded['img_size'], ) * 2}" in message
    assert 'Fix: set the backbone arch and img_size' in message
    assert torch.equal(before, backbone.levels[0].patch_embed.bias)  # nothing half-loaded


def test_whole_model_checkpoint_without_prefix_suggests_the_prefix(tmp_path):
    checkpoint = save_classifier(tmp_path / 'classifier.pth')
    backbone = RaftMLP(arch='small', img_size=32,
                       init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    with pytest.raises(ValueError, match=r"nests the backbone under 'backbone\.'.*"
                                         r"prefix='backbone\.'"):
        backbone.init_weights()


def test_load_from_of_another_img_size_stops_the_whole_model_load(tmp_path):
    """Runner's load_from path: mmengine's load_checkpoint on the whole classifier."""
    from mmengine.runner import load_checkpoint
    checkpoint = save_classifier(tmp_path / 'img64.pth', img_size=64)
    with pytest.raises(ValueError, match=r'backbone\.levels\.0\.blocks\.0\.token_mixing'):
        load_checkpoint(classifier(img_size=32), checkpoint, map_location='cpu')


@contextlib.contextmanager
def mmengine_log():
    """Everything MMEngine logs meanwhile, as text. PretrainedInit and load_state_dict log
    through MMLogger's current instance, whose handlers pytest's caplog never sees: a new
    instance becomes the current one, with a handler of our own."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance(f'capture_{uuid.uuid4().hex}', log_level='DEBUG')
    assert MMLogger.get_current_instance() is logger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def load_backbone_of(checkpoint):
    """A classifier whose backbone loads ``checkpoint`` by prefix: (model, what MMEngine logged)."""
    model = classifier(init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                                     prefix='backbone.'))
    with mmengine_log() as log:
        model.init_weights()
    return model, log.getvalue()


def test_matching_checkpoint_loads_silently_and_exactly(tmp_path):
    checkpoint = save_classifier(tmp_path / 'same.pth')
    source = torch.load(checkpoint)['state_dict']
    model, log = load_backbone_of(checkpoint)
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, source['backbone.' + key]), key
    assert f'load backbone. in model from: {checkpoint}' in log  # the capture sees the load
    assert 'do not match' not in log and 'missing keys' not in log and 'unexpected key' not in log


def test_partial_checkpoint_is_loaded_with_mmengines_warning(tmp_path):
    """A checkpoint without the final norm still loads (the norm is outside the levels), and
    MMEngine's warning names the keys; the capture above would see it."""
    source = classifier().state_dict()
    del source['backbone.norm.weight'], source['backbone.norm.bias']
    torch.save(dict(state_dict=source), tmp_path / 'partial.pth')
    model, log = load_backbone_of(str(tmp_path / 'partial.pth'))
    assert 'The model and loaded state dict do not match exactly' in log
    assert 'missing keys in source state_dict: norm.weight, norm.bias' in log
    assert torch.equal(model.backbone.state_dict()['levels.0.patch_embed.bias'],
                       source['backbone.levels.0.patch_embed.bias'])


# ---- start-up checks in the tools ------------------------------------------------------------

def detector(**options):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, DET_DEMO))
    cfg.merge_from_dict(options)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model)


def test_fpn_in_channels_that_do_not_match_the_backbone_name_both_lists():
    with pytest.raises(ValueError) as failure:
        check_neck_channels(detector(**{'model.neck.in_channels': [96, 192, 384, 768]}))
    message = str(failure.value)
    assert 'model.neck.in_channels is [96, 192, 384, 768]' in message
    assert 'outputs [64, 128, 256, 512] channels' in message
    assert 'model.neck.in_channels=[64, 128, 256, 512]' in message
    check_neck_channels(detector())  # the demo as shipped passes


@pytest.mark.parametrize('config,root,layout', [
    (CLS_DEMO, 'data/no_such_digits', 'python tools/misc/make_digits.py'),
    (DET_DEMO, 'data/no_such_coco/', 'annotations/instances_{train,val}2017.json'),
])
def test_missing_data_root_names_the_path_and_the_layout(config, root, layout):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    cfg.train_dataloader.dataset.data_root = root
    with pytest.raises(FileNotFoundError) as failure:
        check_data_root('train_dataloader', cfg.train_dataloader)
    message = str(failure.value)
    assert f'train_dataloader: dataset root {root} does not exist' in message
    assert layout in message


def test_test_tool_names_a_missing_test_data_root(tmp_path):
    checkpoint = save_classifier(tmp_path / 'model.pth')
    with pytest.raises(AssertionError) as failure:
        python_tool('tools/test.py', CLS_DEMO, checkpoint, '--work-dir', tmp_path / 'eval',
                    '--cfg-options', 'test_dataloader.dataset.data_root=data/gone_digits')
    assert 'test_dataloader: dataset root data/gone_digits does not exist' in str(failure.value)
    assert 'python tools/misc/make_digits.py' in str(failure.value)
    assert not (tmp_path / 'eval').exists()


def work_dir_with_history(tmp_path):
    """A work dir of an earlier run: its checkpoint, and the record of which one is last."""
    work_dir = tmp_path / 'wd'
    work_dir.mkdir()
    (work_dir / 'epoch_5.pth').write_bytes(b'earlier run')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_5.pth'))
    return work_dir


def assert_checkpoints_untouched(work_dir):
    """A run that fails its start-up checks leaves only its own log folder (and MMEngine's dump
    of its config) behind: no checkpoint is written, removed or changed."""
    assert sorted(p.name for p in work_dir.iterdir() if 'pth' in p.name or 'last' in p.name) \
        == ['epoch_5.pth', 'last_checkpoint']
    assert (work_dir / 'epoch_5.pth').read_bytes() == b'earlier run'
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_5.pth')


def failed_train(work_dir, *args, launcher='tools'):
    """tools/train.py, or mmpretrain's own tools/train.py through mim, expected to fail."""
    if launcher == 'tools':
        cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), CLS_DEMO]
    else:
        cmd = [osp.join(osp.dirname(sys.executable), 'mim'), 'train', 'mmpretrain', CLS_DEMO,
               '--gpus', '0', '--launcher', 'none']
    with pytest.raises(AssertionError) as failure:
        run(cmd + ['--work-dir', work_dir, *args], timeout=300)
    return str(failure.value)


@pytest.mark.parametrize('launcher,options,expect', [
    ('tools', ['model.backbone.arch=tiny'], "unknown RaftMLP arch 'tiny'"),
    ('tools', ['model.backbone.img_size=36'], 'img_size (36, 36) is not divisible down the levels'),
    ('tools', ['train_dataloader.dataset.data_root=data/missing_digits'],
     'dataset root data/missing_digits does not exist'),
    # the checks live in the config's train loop: mim runs them too
    ('mim', ['train_dataloader.dataset.data_root=data/missing_digits'],
     'dataset root data/missing_digits does not exist'),
    ('mim', ['model.backbone.init_cfg.type=Pretrained',
             'model.backbone.init_cfg.checkpoint=checkpoints/none.pth'],
     'model.backbone.init_cfg.checkpoint = checkpoints/none.pth does not exist'),
])
def test_bad_input_fails_before_training_and_keeps_the_checkpoints(digits, tmp_path, launcher,
                                                                   options, expect):
    work_dir = work_dir_with_history(tmp_path)
    message = failed_train(work_dir, '--resume', '--cfg-options', *QUICK, *options,
                           launcher=launcher)
    assert expect in message
    # one exception, raised before any training line (mim adds its own for the failed child)
    assert message.count('Traceback') == (1 if launcher == 'tools' else 2)
    assert 'Epoch(train)' not in message
    assert_checkpoints_untouched(work_dir)


def test_wrong_channel_count_stops_at_the_first_batch_keeping_checkpoints(digits, tmp_path):
    work_dir = work_dir_with_history(tmp_path)
    message = failed_train(work_dir, '--cfg-options', *QUICK, 'model.backbone.in_channels=1')
    assert 'RaftMLP expects (B, 1, H, W) images, got shape (32, 3, 32, 32)' in message
    assert 'Epoch(train)' not in message  # no iteration finished
    assert (work_dir / 'epoch_5.pth').read_bytes() == b'earlier run'
    assert not glob.glob(str(work_dir / '*.pth'))[1:]


def test_train_tool_rejects_load_from_of_another_img_size(digits, tmp_path):
    checkpoint = save_classifier(tmp_path / 'img64.pth', img_size=64)
    work_dir = work_dir_with_history(tmp_path)
    message = failed_train(work_dir, '--cfg-options', *QUICK, f'load_from={checkpoint}')
    assert f'Loads checkpoint by local backend from path: {checkpoint}' in message
    assert 'ValueError: checkpoint does not fit this RaftMLP' in message
    assert 'levels.0.blocks.0.token_mixing.mlp_vertical.fc1.weight: checkpoint (64, 32), ' \
           'model (32, 16)' in message
    assert 'Epoch(train)' not in message
    assert_checkpoints_untouched(work_dir)


# ---- NaN / inf loss -------------------------------------------------------------------------

def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(digits, tmp_path):
    work_dir = tmp_path / 'nan'
    python_tool('tools/train.py', CLS_DEMO, '--work-dir', work_dir, '--cfg-options', *QUICK)
    good = (work_dir / 'epoch_1.pth').read_bytes()

    # resume for a second epoch whose loss overflows fp32 at its first iteration (the 3rd)
    message = failed_train(work_dir, '--resume', '--cfg-options', *QUICK,
                           'train_cfg.max_epochs=2', 'model.head.loss.loss_weight=1e39')
    assert re.search(r"non-finite loss at iteration 3 \(epoch 2, batch 1\): \{'loss': inf",
                     message), message[-3000:]
    assert 'the last good checkpoint is' in message and 'epoch_1.pth' in message
    assert 'clip_grad' in message
    assert (work_dir / 'epoch_1.pth').read_bytes() == good
    assert not (work_dir / 'epoch_2.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')


# ---- mixed precision --------------------------------------------------------------------------

def test_autocast_forward_matches_fp32_and_resampling_stays_fp32(monkeypatch):
    torch.manual_seed(0)
    model = RaftMLP(arch='small', img_size=32, out_indices=(0, 1, 2, 3)).eval()
    x = torch.randn(2, 3, 40, 56)  # not the pretraining size: every block resamples
    with torch.no_grad():
        reference = model(x)

        # every resampling computes in fp32 under autocast: its result equals the fp32 one
        # cast to the output dtype (a bf16 matmul would round differently)
        exact = []
        resize = raftmlp_module.resize_bicubic_tokens

        def spy(tokens, size):
            out = resize(tokens, size)
            with torch.autocast('cpu', enabled=False):
                exact.append(torch.equal(out, resize(tokens.float(), size).to(out.dtype)))
            return out

        monkeypatch.setattr(raftmlp_module, 'resize_bicubic_tokens', spy)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            mixed = model(x)
    assert len(exact) >= 2 * 12 and all(exact)
    for out, ref in zip(mixed, reference):
        assert out.dtype == torch.bfloat16
        # tolerance: bf16 keeps 8 mantissa bits; 12 blocks stay within 5% of the feature scale
        error = (out.float() - ref).abs().max() / ref.abs().max()
        assert error < 0.05, error


def test_bfloat16_optim_wrapper_trains_in_autocast_with_fp32_weights():
    from raftmlp_mm.engine import BFloat16AutocastOptimWrapper
    torch.manual_seed(0)
    model = classifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    wrapper = BFloat16AutocastOptimWrapper(optimizer=optimizer)
    seen = []
    for part in (model.backbone.levels[-1], model.head.fc):
        part.register_forward_hook(lambda module, args, out: seen.append(
            (out[0] if isinstance(out, tuple) else out).dtype))
    from mmpretrain.structures import DataSample
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8) for _ in range(4)],
                data_samples=[DataSample().set_gt_label(i) for i in range(4)])
    before = model.backbone.levels[0].patch_embed.bias.detach().clone()
    losses = model.train_step(data, wrapper)
    # the backbone ran under bf16 autocast; the head, as mmcv's CPU ops need, in fp32
    assert seen == [torch.bfloat16, torch.float32]
    assert 'extract_feat' not in vars(model)  # the step's wrapping is undone
    assert torch.isfinite(losses['loss'])
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert not torch.equal(before, model.backbone.levels[0].patch_embed.bias)


def test_train_tool_amp_on_cpu_trains_bfloat16(digits, tmp_path):
    work_dir = tmp_path / 'amp'
    python_tool('tools/train.py', CLS_DEMO, '--amp', '--work-dir', work_dir,
                '--cfg-options', *QUICK)
    log = open(glob.glob(str(work_dir / '*' / '*.log'))[0]).read()
    assert 'mixed precision: bfloat16 autocast on CPU' in log
    losses = [float(v) for v in re.findall(r'Epoch\(train\).*? loss: ([\d.naif]+)', log)]
    assert len(losses) == 2 and all(0 < v < 10 for v in losses), losses
    assert (work_dir / 'epoch_1.pth').is_file()
