"""A killed run resumes to the uninterrupted run's weights and logs; bad checkpoints are
reported and skipped; same seed, same curve; one process and two agree; no leaks (slow).

The end-to-end runs train the classification demo on 64 images in batches of 16 (4
iterations an epoch) for 2 epochs, with the demo's 2 persistent train workers, so worker-side
augmentation (RandomResizedCrop) and drop-path are part of what must repeat exactly.
"""
import glob
import json
import os
import os.path as osp
import pickle
import re
import shutil
import struct
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import LocalBackend
from mmengine.runner import BaseLoop

from raftmlp_mm.engine.checkpoint import SafeCheckpointHook, write_checksum
from raftmlp_mm.engine.loops import SeededBatches, SeededIndex, SeededSamples
from raftmlp_mm.engine.resume import checkpoint_problem, find_resume_checkpoint, prepare_resume

from .conftest import REPO_ROOT
from .utils import assert_same_training_state, killer_config, python_tool, run, run_killed

# seeds set here must not change what later test files draw
pytestmark = pytest.mark.usefixtures('own_random_state')

CLS_DEMO = 'configs/classification/demo/raftmlp_s_digits.py'
SEG_DEMO = 'configs/segmentation/demo/fpn_raftmlp_s_digits.py'
TRAIN_IMAGES = '[' + ','.join(str(i * 22) for i in range(64)) + ']'
VAL_IMAGES = '[' + ','.join(str(i * 11) for i in range(32)) + ']'
RUN = ['train_cfg.max_epochs=2', 'train_dataloader.batch_size=16',
       f'train_dataloader.dataset.indices={TRAIN_IMAGES}',
       f'val_dataloader.dataset.indices={VAL_IMAGES}', 'val_dataloader.num_workers=0',
       'val_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1']
SEED = ['--seed', '3', '--deterministic']
# a checkpoint every 3 iterations: iter_3 and iter_6 fall in the middle of epochs 1 and 2
ITER_CHECKPOINTS = ['default_hooks.checkpoint.by_epoch=False',
                    'default_hooks.checkpoint.interval=3',
                    'default_hooks.checkpoint.max_keep_ckpts=-1']


def train(config, work_dir, *args, killed=False):
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), str(config),
           '--work-dir', str(work_dir), *SEED, *args]
    return run_killed(cmd) if killed else run(cmd)


def copy_work_dir(source, target):
    """A copy whose last_checkpoint names its own files, as a work dir after a crash has."""
    shutil.copytree(source, target)
    with open(osp.join(source, 'last_checkpoint')) as f:
        name = osp.basename(f.read().strip())
    with open(osp.join(target, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(str(target), name))


def log_dirs(work_dir):
    return sorted(glob.glob(osp.join(str(work_dir), '2*_*')))  # one per run, by start time


def curve(log_dir):
    """{iteration: (loss, lr)} and {epoch: top-1} as the run logged them (full precision)."""
    with open(osp.join(log_dir, 'vis_data', 'scalars.json')) as f:
        records = [json.loads(line) for line in f]
    train_curve = {r['iter']: (r['loss'], r['lr']) for r in records if 'loss' in r}
    val_curve = {r['step']: r['accuracy/top1'] for r in records if 'accuracy/top1' in r}
    return train_curve, val_curve


def run_info(log_dir):
    with open(osp.join(log_dir, 'run_info.json')) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def reference(digits, tmp_path_factory):
    """The uninterrupted run (epoch checkpoints, the demo keeps the last one)."""
    work_dir = tmp_path_factory.mktemp('reference')
    train(CLS_DEMO, work_dir, '--cfg-options', *RUN)
    return work_dir


@pytest.fixture(scope='module')
def killed_mid_epoch(digits, tmp_path_factory):
    """The same run with checkpoints every 3 iterations, SIGKILLed after iteration 7."""
    folder = tmp_path_factory.mktemp('killed')
    config = killer_config(folder, "dict(type='tests.killers.KillAfterIteration', iteration=7)",
                           CLS_DEMO)
    work_dir = folder / 'wd'
    train(config, work_dir, '--cfg-options', *RUN, *ITER_CHECKPOINTS, killed=True)
    return work_dir


# ---- resume after a kill ----------------------------------------------------------------------

def test_run_killed_mid_epoch_resumes_to_the_same_weights_and_logs(reference, killed_mid_epoch,
                                                                   tmp_path):
    work_dir = tmp_path / 'wd'
    copy_work_dir(killed_mid_epoch, work_dir)
    assert {'iter_3.pth', 'iter_6.pth'} <= set(os.listdir(work_dir))
    assert not glob.glob(str(work_dir / 'iter_[78].pth'))

    result = train(CLS_DEMO, work_dir, '--resume', '--cfg-options', *RUN, *ITER_CHECKPOINTS)
    assert 'resuming mid-epoch: skipping the 2 batches of epoch 2' in result.stdout
    assert_same_training_state(reference / 'epoch_2.pth', work_dir / 'iter_8.pth')

    ref_train, ref_val = curve(log_dirs(reference)[0])
    killed, resumed = log_dirs(work_dir)
    killed_train, killed_val = curve(killed)
    resumed_train, resumed_val = curve(resumed)
    assert killed_train == {i: ref_train[i] for i in range(1, 8)}
    assert killed_val == {1: ref_val[1]}
    # the resumed run repeats iteration 7 (after the checkpoint, before the kill) exactly
    assert resumed_train == {i: ref_train[i] for i in (7, 8)}
    assert resumed_val == {2: ref_val[2]}
    info = run_info(resumed)
    assert info['resumed_from'] == str(work_dir / 'iter_6.pth')
    assert (info['start_epoch'], info['start_iter']) == (1, 6)


def test_truncated_latest_checkpoint_is_reported_and_the_previous_one_resumed(
        reference, killed_mid_epoch, tmp_path):
    work_dir = tmp_path / 'wd'
    copy_work_dir(killed_mid_epoch, work_dir)
    latest = work_dir / 'iter_6.pth'
    data = latest.read_bytes()
    latest.write_bytes(data[:len(data) // 2])  # as a plain torch.save killed mid-write leaves it
    os.remove(str(latest) + '.sha256')

    result = train(CLS_DEMO, work_dir, '--resume', '--cfg-options', *RUN, *ITER_CHECKPOINTS)
    assert re.search(rf'cannot resume from {re.escape(str(latest))}: it does not load '
                     r'\(RuntimeError: PytorchStreamReader failed', result.stderr)
    assert 'resuming mid-epoch: skipping the 3 batches of epoch 1' in result.stdout
    assert_same_training_state(reference / 'epoch_2.pth', work_dir / 'iter_8.pth')
    resumed = log_dirs(work_dir)[-1]
    info = run_info(resumed)
    assert info['resumed_from'] == str(work_dir / 'iter_3.pth')
    assert info['skipped_checkpoints'][0][0] == str(latest)
    [log] = glob.glob(osp.join(resumed, '*.log'))
    assert f'resume skipped {latest}' in open(log).read()


def test_run_killed_while_writing_a_checkpoint_resumes_from_the_previous_one(reference,
                                                                             tmp_path):
    config = killer_config(
        tmp_path, "dict(type='tests.killers.KillWhileWritingCheckpoint', name='epoch_2.pth')",
        CLS_DEMO)
    work_dir = tmp_path / 'wd'
    train(config, work_dir, '--cfg-options', *RUN, killed=True)
    # The demo keeps one checkpoint (max_keep_ckpts=1): epoch_1 survives the failed write of
    # epoch_2, which never appears under its own name.
    names = set(os.listdir(work_dir))
    [temporary] = [n for n in names if n.startswith('.epoch_2.pth.')]
    assert {'epoch_1.pth', 'epoch_1.pth.sha256'} <= names and 'epoch_2.pth' not in names
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_1.pth')
    assert checkpoint_problem(str(work_dir / temporary))[0] is not None  # half-written

    result = train(CLS_DEMO, work_dir, '--resume', '--cfg-options', *RUN)
    assert f'removed {temporary}' in result.stdout
    assert sorted(n for n in os.listdir(work_dir) if 'pth' in n) == \
        ['epoch_2.pth', 'epoch_2.pth.sha256']  # the old one removed once the new one is safe
    assert_same_training_state(reference / 'epoch_2.pth', work_dir / 'epoch_2.pth')
    ref_train, ref_val = curve(log_dirs(reference)[0])
    resumed_train, resumed_val = curve(log_dirs(work_dir)[-1])
    assert resumed_train == {i: ref_train[i] for i in range(5, 9)}
    assert resumed_val == {2: ref_val[2]}


# ---- the best checkpoint ------------------------------------------------------------------------

class AtStep(BaseLoop):
    """A train loop standing at (epoch, iteration), for driving a checkpoint hook directly."""

    def __init__(self, runner, epoch, iteration):
        super().__init__(runner, torch.utils.data.DataLoader(Noise()))
        self.epoch, self.iter = epoch, iteration

    def run(self):
        pass


def best_hook(work_dir):
    runner = toy_runner(work_dir)
    hook = SafeCheckpointHook(interval=1, save_best='acc', rule='greater')
    hook.before_train(runner)
    return runner, hook


def test_best_checkpoint_is_replaced_only_once_the_new_one_is_complete(tmp_path, monkeypatch):
    runner, hook = best_hook(tmp_path / 'ok')
    runner._train_loop = AtStep(runner, epoch=1, iteration=4)
    hook.after_val_epoch(runner, dict(acc=0.5))
    runner._train_loop = AtStep(runner, epoch=2, iteration=8)
    hook.after_val_epoch(runner, dict(acc=0.9))
    assert sorted(n for n in os.listdir(tmp_path / 'ok') if 'pth' in n) == \
        ['best_acc_epoch_2.pth', 'best_acc_epoch_2.pth.sha256']
    assert checkpoint_problem(str(tmp_path / 'ok' / 'best_acc_epoch_2.pth'))[0] is None

    # the new best fails halfway (a full disk; a kill leaves the same): the old one is intact
    runner, hook = best_hook(tmp_path / 'failed')
    runner._train_loop = AtStep(runner, epoch=1, iteration=4)
    hook.after_val_epoch(runner, dict(acc=0.5))
    first = tmp_path / 'failed' / 'best_acc_epoch_1.pth'
    assert checkpoint_problem(str(first)) == (None, torch.load(first)['meta'])

    def half_then_fail(backend, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise OSError('No space left on device')

    runner._train_loop = AtStep(runner, epoch=2, iteration=8)
    monkeypatch.setattr(LocalBackend, 'put', half_then_fail)
    with pytest.raises(OSError):
        hook.after_val_epoch(runner, dict(acc=0.7))
    assert checkpoint_problem(str(first))[0] is None
    assert not (tmp_path / 'failed' / 'best_acc_epoch_2.pth').exists()


# ---- the same under every launcher -------------------------------------------------------------
# mim runs the host's own tools/train.py, and Runner.from_cfg is what a Python user writes: the
# config alone must make them kill-and-resume to tools/train.py's uninterrupted run, bit for bit.

MIM_SEED = ['randomness.seed=3', 'randomness.deterministic=True']  # what SEED sets, as options


def mim_train(host, config, work_dir, *args, killed=False):
    cmd = [osp.join(osp.dirname(sys.executable), 'mim'), 'train', host, str(config), '--gpus',
           '0', '--launcher', 'none', '--work-dir', str(work_dir), *args]
    return run_killed(cmd) if killed else run(cmd)


RUNNER_FROM_CFG = """
import argparse, sys
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
config, work_dir, resume = sys.argv[1], sys.argv[2], sys.argv[3] == 'resume'
cfg = Config.fromfile(config)
parser = argparse.ArgumentParser()  # the options, parsed as --cfg-options parses them
parser.add_argument('options', nargs='+', action=DictAction)
cfg.merge_from_dict(parser.parse_args(sys.argv[4:]).options)
cfg.work_dir, cfg.resume = work_dir, resume
Runner.from_cfg(cfg).train()
"""


def runner_from_cfg(config, work_dir, *options, resume=False, killed=False):
    """Train with nothing but Runner.from_cfg(Config.fromfile(config)) (options as strings)."""
    cmd = [sys.executable, '-c', RUNNER_FROM_CFG, str(config), str(work_dir),
           'resume' if resume else 'new', *options]
    return run_killed(cmd) if killed else run(cmd)


def test_mim_train_killed_mid_epoch_resumes_to_the_train_tools_run(reference, tmp_path):
    kill = killer_config(tmp_path, "dict(type='tests.killers.KillAfterIteration', iteration=7)",
                         CLS_DEMO)
    work_dir = tmp_path / 'wd'
    options = ['--cfg-options', *RUN, *ITER_CHECKPOINTS, *MIM_SEED]
    mim_train('mmpretrain', kill, work_dir, *options, killed=True)
    assert {'iter_3.pth', 'iter_6.pth', 'iter_6.pth.sha256'} <= set(os.listdir(work_dir))

    result = mim_train('mmpretrain', CLS_DEMO, work_dir, '--resume', *options)
    assert 'resuming mid-epoch: skipping the 2 batches of epoch 2' in result.stdout
    assert_same_training_state(reference / 'epoch_2.pth', work_dir / 'iter_8.pth')
    ref_train, ref_val = curve(log_dirs(reference)[0])
    killed, resumed = log_dirs(work_dir)
    assert curve(killed)[0] == {i: ref_train[i] for i in range(1, 8)}
    assert curve(resumed) == ({i: ref_train[i] for i in (7, 8)}, {2: ref_val[2]})
    assert run_info(resumed)['resumed_from'] == str(work_dir / 'iter_6.pth')


def test_runner_from_cfg_killed_mid_epoch_resumes_to_the_train_tools_run(reference, tmp_path):
    kill = killer_config(tmp_path, "dict(type='tests.killers.KillAfterIteration', iteration=7)",
                         CLS_DEMO)
    work_dir = tmp_path / 'wd'
    options = [*RUN, *ITER_CHECKPOINTS, *MIM_SEED]
    runner_from_cfg(kill, work_dir, *options, killed=True)
    # the latest checkpoint is truncated: the resume skips it under this launcher too
    latest = work_dir / 'iter_6.pth'
    latest.write_bytes(latest.read_bytes()[:1000])
    result = runner_from_cfg(CLS_DEMO, work_dir, *options, resume=True)
    assert f'cannot resume from {latest}: its sha256' in result.stderr
    assert 'resuming mid-epoch: skipping the 3 batches of epoch 1' in result.stdout
    assert_same_training_state(reference / 'epoch_2.pth', work_dir / 'iter_8.pth')
    ref_train, _ = curve(log_dirs(reference)[0])
    assert curve(log_dirs(work_dir)[-1])[0] == {i: ref_train[i] for i in range(4, 9)}


# ---- choosing the checkpoint to resume from ---------------------------------------------------

def fake_checkpoint(path, epoch, seed=7):
    torch.save(dict(meta=dict(epoch=epoch, iter=4 * epoch, seed=seed),
                    state_dict=dict(w=torch.full((64, ), float(epoch)))), path)
    write_checksum(str(path))
    return str(path)


def toy_runner(work_dir, load_from=None, resume=True, seed=1):
    """A real MMEngine Runner around a one-layer model: what ``prepare_resume`` reads and sets
    (the seeded loops call it while the Runner builds them)."""
    from mmengine.runner import Runner
    toy_runner.count = getattr(toy_runner, 'count', 0) + 1
    return Runner(model=torch.nn.Linear(1, 1), work_dir=str(work_dir), load_from=load_from,
                  resume=resume, randomness=dict(seed=seed),
                  experiment_name=f'toy_runner_{os.getpid()}_{toy_runner.count}')


def test_resume_takes_the_newest_checkpoint_that_loads(tmp_path, capsys):
    good = fake_checkpoint(tmp_path / 'epoch_1.pth', 1)
    flipped = fake_checkpoint(tmp_path / 'epoch_2.pth', 2)
    data = open(flipped, 'rb').read()
    weights = struct.pack('<f', 2.0) * 64
    assert data.count(weights) == 1
    # damaged tensor bytes: torch.load does not notice, the checksum does
    open(flipped, 'wb').write(data.replace(weights, struct.pack('<f', 1.5) * 64))
    assert torch.load(flipped)['state_dict']['w'][0] == 1.5
    truncated = fake_checkpoint(tmp_path / 'epoch_3.pth', 3)
    os.truncate(truncated, 300)
    os.remove(truncated + '.sha256')
    not_training = str(tmp_path / 'epoch_4.pth')
    torch.save(dict(w=torch.zeros(3)), not_training)
    (tmp_path / '.epoch_5.pth.123.tmp').write_bytes(b'half')  # a write that never finished
    (tmp_path / 'last_checkpoint').write_text(not_training)

    path, meta, skipped = find_resume_checkpoint(str(tmp_path))
    assert path == good and meta['epoch'] == 1
    assert [p for p, _ in skipped] == [not_training, truncated, flipped]
    problems = dict(skipped)
    assert 'not a training checkpoint' in problems[not_training]
    assert 'it does not load (RuntimeError: PytorchStreamReader' in problems[truncated]
    assert 'differs from epoch_2.pth.sha256' in problems[flipped]
    err = capsys.readouterr().err
    for bad in (not_training, truncated, flipped):
        assert f'cannot resume from {bad}: ' in err
    assert os.path.isfile(truncated)  # reported, not deleted

    # the Runner resumes from it, and with its seed: the sampler is seeded before resuming
    runner = toy_runner(tmp_path, seed=1)
    assert prepare_resume(runner) == skipped
    assert (runner._resume, runner._load_from, runner.seed) == (True, good, 7)
    assert runner._randomness_cfg['seed'] == 7


def test_resume_without_a_loadable_checkpoint_says_so(tmp_path):
    runner = toy_runner(tmp_path / 'new')
    assert prepare_resume(runner) == []  # nothing yet: a fresh start
    assert (runner._resume, runner._load_from) == (False, None)

    bad = tmp_path / 'epoch_1.pth'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match=r'no checkpoint in .* can be loaded:\n  .*epoch_1'
                                           r'\.pth: it does not load'):
        prepare_resume(toy_runner(tmp_path))
    with pytest.raises(RuntimeError, match=rf'resume from {re.escape(str(bad))}: it does not '
                                           r'load'):
        prepare_resume(toy_runner(tmp_path, load_from=str(bad)))
    with pytest.raises(FileNotFoundError, match='resume from gone.pth: no such file'):
        prepare_resume(toy_runner(tmp_path, load_from='gone.pth'))
    runner = toy_runner(tmp_path, load_from=str(bad), resume=False)  # load_from alone: as it is
    assert prepare_resume(runner) == [] and runner._load_from == str(bad)


# ---- the seeded sampling ----------------------------------------------------------------------

def test_seeded_batches_skip_without_changing_what_follows():
    from torch.utils.data import BatchSampler, SequentialSampler
    batches = SeededBatches(BatchSampler(SequentialSampler(range(10)), 3, False), by_index=True)
    batches.seed, batches.epoch = 5, 2
    full = list(batches)
    batches.skip = 2
    assert list(batches) == full[2:]
    assert list(batches) == full  # the skip applies to one pass only
    assert [k.index for k in full[0]] == [0, 1, 2]
    # epoch loops: the seed is a function of (seed, epoch, index), not of the batching
    other = SeededBatches(BatchSampler(SequentialSampler(range(10)), 4, False), by_index=True)
    other.seed, other.epoch = 5, 2
    assert sum(list(other), []) == sum(full, [])
    other.epoch = 3
    assert [k.seed for k in sum(list(other), [])] != [k.seed for k in sum(full, [])]


class Noise(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', ))

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return np.random.rand(), torch.rand(1).item()


def test_seeded_samples_repeat_and_stay_transparent():
    samples = SeededSamples(Noise())
    first = samples[SeededIndex(1, 99)]
    torch.rand(5), np.random.rand(5)  # whatever ran before
    assert samples[SeededIndex(1, 99)] == first
    assert samples[SeededIndex(1, 98)] != first
    assert isinstance(samples, Noise) and len(samples) == 4
    assert samples.metainfo == dict(classes=('a', ))
    samples.pipeline = 'swapped'  # e.g. a hook switching the pipeline
    assert samples.__dict__['_seeded_dataset'].pipeline == 'swapped'
    copy = pickle.loads(pickle.dumps(samples))
    assert copy[SeededIndex(1, 99)] == first and copy.pipeline == 'swapped'


# ---- the same run twice -----------------------------------------------------------------------

def test_same_seed_repeats_the_curve_with_any_worker_count_and_records_the_seed(reference,
                                                                                tmp_path):
    # The reference with its 2 persistent workers, again with none: every sample's
    # augmentation is seeded by (seed, epoch, image), so not even the worker count matters.
    # (The killed runs above repeat the reference's curve with the worker count unchanged.)
    train(CLS_DEMO, tmp_path / 'again', '--cfg-options', *RUN,
          'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False')
    expected = curve(log_dirs(reference)[0])
    assert len(expected[0]) == 8 and len(expected[1]) == 2
    assert curve(log_dirs(tmp_path / 'again')[0]) == expected
    assert_same_training_state(reference / 'epoch_2.pth', tmp_path / 'again' / 'epoch_2.pth')

    log_dir = log_dirs(reference)[0]
    info = run_info(log_dir)
    assert info['seed'] == 3 and info['randomness']['deterministic'] is True
    assert info['train_loop'] == 'ExactResumeEpochBasedTrainLoop'
    assert '--deterministic' in info['command']
    for dumped in (reference / 'raftmlp_s_digits.py', osp.join(log_dir, 'vis_data',
                                                               'config.py')):
        cfg = Config.fromfile(str(dumped))
        assert (cfg.randomness.seed, cfg.randomness.deterministic) == (3, True)
        assert cfg.train_dataloader.batch_size == 16  # the resolved config, options applied


# ---- two processes and one --------------------------------------------------------------------

def batch_loss(checkpoint, image_root):
    """The training loss of a checkpoint on 16 fixed training images (no augmentation)."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS, MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, CLS_DEMO))
    cfg.model.backbone.drop_path_rate = 0.0
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        dataset = DATASETS.build(dict(type='CustomDataset', data_root=image_root,
                                      data_prefix='train', pipeline=cfg.test_pipeline,
                                      indices=list(range(0, 1400, 88))))
    model.load_state_dict(torch.load(checkpoint, map_location='cpu')['state_dict'])
    data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(16)]), True)
    with torch.no_grad():
        return model(**data, mode='loss')['loss'].item()


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(digits, tmp_path):
    # no drop-path: its masks are drawn per process, so they cannot match; the random crops
    # do match, as their seeds depend only on (seed, epoch, image)
    options = [*RUN, 'train_cfg.max_epochs=1', 'model.backbone.drop_path_rate=0.0']
    train(CLS_DEMO, tmp_path / 'one', '--cfg-options', *options)
    run(['bash', 'tools/dist_train.sh', CLS_DEMO, '2', '--work-dir', tmp_path / 'two', *SEED,
         '--cfg-options', *options, 'train_dataloader.batch_size=8'], PYTHON=sys.executable)

    one = torch.load(tmp_path / 'one' / 'epoch_1.pth', map_location='cpu')
    two = torch.load(tmp_path / 'two' / 'epoch_1.pth', map_location='cpu')
    assert one['meta']['iter'] == two['meta']['iter'] == 4
    worst = max((one['state_dict'][k] - two['state_dict'][k]).abs().max().item()
                for k in one['state_dict'])
    # float32 sums in another order (DDP's gradient average) after 4 AdamW steps of lr<=2e-3
    losses = [batch_loss(tmp_path / run_dir / 'epoch_1.pth', digits) for run_dir in ('one', 'two')]
    # measured: 1.6e-6 for the weights, 4e-7 for the loss
    assert worst < 1e-5, worst
    assert abs(losses[0] - losses[1]) < 1e-5, losses
    assert curve(log_dirs(tmp_path / 'one')[0])[1] == curve(log_dirs(tmp_path / 'two')[0])[1]


# ---- slow: the iteration loop, memory ----------------------------------------------------------

@pytest.mark.slow
def test_iteration_based_run_killed_mid_run_resumes_exactly(digits_canvas, tmp_path):
    """The segmentation demo: IterBasedTrainLoop, InfiniteSampler, 2 persistent workers."""
    options = ['--cfg-options', 'train_cfg.max_iters=6', 'train_cfg.val_begin=100',
               'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1',
               'train_dataloader.batch_size=2']
    train(SEG_DEMO, tmp_path / 'reference', *options)
    config = killer_config(tmp_path, "dict(type='tests.killers.KillAfterIteration', "
                                     "iteration=5)", base=SEG_DEMO)
    train(config, tmp_path / 'wd', *options, killed=True)
    result = train(SEG_DEMO, tmp_path / 'wd', '--resume', *options)
    assert 'Advance dataloader 3 steps' in result.stdout
    assert_same_training_state(tmp_path / 'reference' / 'iter_6.pth',
                               tmp_path / 'wd' / 'iter_6.pth')
    expected = curve(log_dirs(tmp_path / 'reference')[0])[0]
    assert curve(log_dirs(tmp_path / 'wd')[-1])[0] == {i: expected[i] for i in (4, 5, 6)}


@pytest.mark.slow
def test_memory_stays_flat_over_three_epochs_with_prefetching_workers(digits, tmp_path):
    """The whole demo for 3 epochs: 2 persistent train workers prefetching 4 batches each,
    2 persistent val workers. Measured: +2.3 MiB from epoch 1 to 3 (of about 3 GiB RSS
    summed over the trainer and its workers, shared pages counted in each)."""
    result = python_tool('tools/misc/memory_check.py', CLS_DEMO, '--epochs', '3',
                         '--work-dir', tmp_path, '--cfg-options',
                         'train_dataloader.prefetch_factor=4', timeout=1800)
    assert 'growth from epoch 1 to epoch 3' in result.stdout
    with open(tmp_path / 'memory.json') as f:
        report = json.load(f)
    assert [row['workers'] for row in report['epochs']] == [4, 4, 4]
    assert report['growth_mib'] < 32, result.stdout[-1000:]
