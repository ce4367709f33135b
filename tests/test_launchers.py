"""The launch scripts as a user meets them: in a new shell, on several nodes, under Slurm,
with SyncBN on CPU, and the evaluation launchers (tools/test.py, tools/dist_test.sh, mim test)
agreeing on one checkpoint."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from .conftest import REPO_ROOT
from .test_detection import build_detector
from .test_resume import RUN as RESUME_RUN
from .test_resume import SEED, batch_loss, curve, log_dirs, run_info, train
from .test_training import digits_demo_one_epoch
from .utils import free_port, killer_config, run, tool_env

CLS_DEMO = 'configs/classification/demo/raftmlp_s_digits.py'
DET_DEMO = 'configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py'
QUICK = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=32',
         'val_dataloader.dataset.indices=32', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False']


def new_shell_env() -> dict:
    """A new shell's environment: no virtualenv active, no venv on PATH, no PYTHONPATH."""
    return dict(PATH='/usr/local/bin:/usr/bin:/bin', HOME=os.environ.get('HOME', '/root'),
                OMP_NUM_THREADS='1', PORT=str(free_port()))


def test_dist_train_finds_the_checkouts_venv_in_a_new_shell(digits, tmp_path):
    venv = osp.join(REPO_ROOT, '.venv')
    assert osp.isdir(venv) and osp.samefile(sys.prefix, venv), \
        'run the suite as the README says (make test), from the checkout\'s .venv'
    result = subprocess.run(['bash', 'tools/dist_train.sh', CLS_DEMO, '1', '--work-dir',
                             str(tmp_path / 'wd'), '--cfg-options', *QUICK],
                            cwd=REPO_ROOT, env=new_shell_env(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'wd' / 'epoch_1.pth').is_file()


def run_together(commands, folder, **env):
    """Run independent commands at once from the repo root (they share the cores), their output
    in files; fail with the output of any that fails. Returns {name: stdout}."""
    started = {}
    for name, cmd in commands.items():
        with open(folder / f'{name}.out', 'w') as out, open(folder / f'{name}.err', 'w') as err:
            started[name] = subprocess.Popen([str(c) for c in cmd], cwd=REPO_ROOT, stdout=out,
                                             stderr=err, env=tool_env(**env.get(name, {})))
    for process in started.values():
        process.wait(timeout=600)
    for name, process in started.items():
        assert process.returncode == 0, (
            f'{name} exited {process.returncode}\n'
            f'{(folder / f"{name}.out").read_text()[-3000:]}\n'
            f'{(folder / f"{name}.err").read_text()[-5000:]}')
    return {name: (folder / f'{name}.out').read_text() for name in commands}


# ---- several nodes ----------------------------------------------------------------------------

@pytest.mark.slow  # three trainers (about 50 s of CPU)
def test_two_nodes_of_one_process_match_one_process_with_the_same_global_batch(digits,
                                                                               tmp_path):
    """`NNODES=2 NODE_RANK=0|1 ... dist_train.sh CONFIG 1` on each "node" (here both on this
    machine, meeting at 127.0.0.1:PORT), batch 8 each, against one process with batch 16: the
    comparison of tests/test_resume.py's two-gloo-processes test (4 steps, no drop-path)."""
    options = [*RESUME_RUN, 'train_cfg.max_epochs=1', 'model.backbone.drop_path_rate=0.0']
    train(CLS_DEMO, tmp_path / 'one', '--cfg-options', *options)
    port = free_port()
    node = ['bash', 'tools/dist_train.sh', CLS_DEMO, '1', '--work-dir', tmp_path / 'two', *SEED,
            '--cfg-options', *options, 'train_dataloader.batch_size=8']
    run_together({f'node{rank}': node for rank in (0, 1)}, tmp_path,
                 **{f'node{rank}': dict(NNODES=2, NODE_RANK=rank, MASTER_ADDR='127.0.0.1',
                                        PORT=port, PYTHON=sys.executable) for rank in (0, 1)})

    [log_dir] = log_dirs(tmp_path / 'two')
    assert run_info(log_dir)['world_size'] == 2
    log = open(glob.glob(osp.join(log_dir, '*.log'))[0]).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    one = torch.load(tmp_path / 'one' / 'epoch_1.pth', map_location='cpu')
    two = torch.load(tmp_path / 'two' / 'epoch_1.pth', map_location='cpu')
    assert one['meta']['iter'] == two['meta']['iter'] == 4  # 64 images, 2 x 8 per step
    worst = max((one['state_dict'][k] - two['state_dict'][k]).abs().max().item()
                for k in one['state_dict'])
    losses = [batch_loss(tmp_path / d / 'epoch_1.pth', digits) for d in ('one', 'two')]
    # as two gloo processes on one node: float32 sums in another order (DDP's average)
    assert worst < 1e-5, worst
    assert abs(losses[0] - losses[1]) < 1e-5, losses
    assert curve(log_dirs(tmp_path / 'one')[0])[1] == curve(log_dir)[1]


# ---- Slurm ------------------------------------------------------------------------------------

FAKE_SRUN = r'''#!/usr/bin/env bash
# Stands in for Slurm's srun: records its arguments and environment, then runs the program it
# was given as the single task of a one-node job, with the variables Slurm gives a task.
printf '%s\n' "$@" > "$SRUN_RECORD/args"
env > "$SRUN_RECORD/env"
while [ $# -gt 0 ]; do
    case "$1" in
        -p) shift 2 ;;  # srun's options up to the program; only -p takes a separate value here
        -*) shift ;;
        *) break ;;
    esac
done
export SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NTASKS=1 SLURM_NODELIST=localhost
exec "$@"
'''


def test_slurm_train_sh_runs_train_py_as_a_one_task_slurm_job(digits, tmp_path):
    record, bin_dir = tmp_path / 'record', tmp_path / 'bin'
    for folder in (record, bin_dir):
        folder.mkdir()
    (bin_dir / 'srun').write_text(FAKE_SRUN)
    (bin_dir / 'srun').chmod(0o755)
    work_dir = tmp_path / 'wd'
    # without CUDA, tools/train.py starts the Slurm task's process group with gloo itself
    train_args = ['--cfg-options', *QUICK]
    env = tool_env(GPUS=1, GPUS_PER_NODE=1, CPUS_PER_TASK=2, SRUN_ARGS='--exclusive',
                   PYTHON=sys.executable, SRUN_RECORD=record,
                   MASTER_ADDR='127.0.0.1', MASTER_PORT=free_port())
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    result = subprocess.run(['bash', 'tools/slurm_train.sh', 'debug', 'raftmlp_s', CLS_DEMO,
                             str(work_dir), *train_args], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]

    assert (record / 'args').read_text().splitlines() == [
        '-p', 'debug', '--job-name=raftmlp_s', '--gres=gpu:1', '--ntasks=1',
        '--ntasks-per-node=1', '--cpus-per-task=2', '--kill-on-bad-exit=1', '--exclusive',
        sys.executable, '-u', osp.join(REPO_ROOT, 'tools', 'train.py'), CLS_DEMO,
        f'--work-dir={work_dir}', '--launcher=slurm', *train_args]
    srun_env = dict(line.split('=', 1) for line in (record / 'env').read_text().splitlines()
                    if '=' in line)
    assert osp.samefile(srun_env['PYTHONPATH'].split(os.pathsep)[0], REPO_ROOT)

    # the task trained under MMEngine's slurm launcher
    [log_dir] = glob.glob(str(work_dir / '2*'))
    info = json.load(open(osp.join(log_dir, 'run_info.json')))
    assert (info['launcher'], info['world_size']) == ('slurm', 1)
    log = open(glob.glob(osp.join(log_dir, '*.log'))[0]).read()
    assert 'Distributed launcher: slurm' in log and 'Epoch(train) [1][1/1]' in log
    assert (work_dir / 'epoch_1.pth').is_file()


# ---- SyncBN on CPU ----------------------------------------------------------------------------

SEG_ADE20K = 'configs/segmentation/fpn_raftmlp_s_512x512_40k_ade20k.py'


def test_syncbn_config_trains_with_two_gloo_processes_as_plain_bn(digits_canvas, tmp_path):
    """The ADE20K config's head uses SyncBN, which needs CUDA once several processes train:
    tools/train.py turns it into BN. Two gloo processes, 2 iterations, on the digits canvases
    (they are in ADE20K's layout) at 128x128 crops, with the config's model otherwise."""
    config = killer_config(tmp_path, "dict(type='tests.probes.RecordModuleTypes')", SEG_ADE20K)
    cfg = Config.fromfile(config)
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    roots = [f'{split}_dataloader.dataset.data_root={digits_canvas}'
             for split in ('train', 'val', 'test')]
    work_dir = tmp_path / 'wd'
    run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir, '--cfg-options',
         *roots, 'model.backbone.init_cfg=None', 'train_cfg.max_iters=2',
         'train_cfg.val_begin=100', 'default_hooks.checkpoint.interval=2',
         'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'train_dataloader.dataset.pipeline.2.scale=(256,128)',
         'train_dataloader.dataset.pipeline.3.crop_size=(128,128)',
         'model.data_preprocessor.size=(128,128)'], PYTHON=sys.executable)
    for rank in (0, 1):
        built = json.load(open(work_dir / f'modules_rank{rank}.json'))
        assert built['world_size'] == 2
        assert 'SyncBatchNorm' not in built['modules']
        assert {'BatchNorm2d', 'MMDistributedDataParallel', 'FPNHead'} <= set(built['modules'])
    log = open(glob.glob(str(work_dir / '2*' / '*.log'))[0]).read()
    assert 'Iter(train) [2/2]' in log
    assert (work_dir / 'iter_2.pth').is_file()
    dumped = Config.fromfile(str(work_dir / 'killed_run.py'))  # the config the run used
    assert dumped.model.decode_head.norm_cfg.type == 'BN'


# ---- evaluation launchers: tools/test.py, tools/dist_test.sh, mim test ------------------------

MIM = osp.join(osp.dirname(sys.executable), 'mim')


def printed_metrics(stdout):
    """The metrics dict tools/test.py prints last (main process only)."""
    return eval(stdout.strip().splitlines()[-1])


def test_dist_test_and_mim_test_give_test_pys_top1(tmp_path_factory, tmp_path):
    """One epoch of the digits demo (tests/test_training.py trains it), evaluated on 61 of the
    held-out digits one image per batch, so each prediction is computed alike everywhere: two
    gloo processes (an odd count: the sampler pads one, the evaluator drops it) and mmpretrain's
    own tools/test.py through mim give test.py's top-1 exactly."""
    checkpoint = digits_demo_one_epoch(tmp_path_factory) / 'epoch_1.pth'
    options = ['--cfg-options', 'test_dataloader.batch_size=1', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False', 'test_dataloader.dataset.indices=61']
    out = run_together({
        'test': [sys.executable, 'tools/test.py', CLS_DEMO, checkpoint, '--work-dir',
                 tmp_path / 'test', *options],
        'dist': ['bash', 'tools/dist_test.sh', CLS_DEMO, checkpoint, '2', '--work-dir',
                 tmp_path / 'dist', *options],
        'mim': [MIM, 'test', 'mmpretrain', CLS_DEMO, '--checkpoint', checkpoint, '--launcher',
                'none', '--work-dir', tmp_path / 'mim', *options],
    }, tmp_path, dist=dict(PYTHON=sys.executable))
    single = printed_metrics(out['test'])['accuracy/top1']
    assert 60 < single <= 100  # a trained model (chance: 10%)
    assert 'GPU number: 2' in out['dist']
    assert printed_metrics(out['dist'])['accuracy/top1'] == single
    [logged] = re.findall(r'Epoch\(test\) \[61/61\]\s+accuracy/top1: ([\d.]+)', out['mim'])
    assert float(logged) == single


@pytest.mark.slow  # four Mask R-CNN evaluations (about 60 s of CPU)
def test_dist_test_and_mim_test_score_test_pys_detections(digits_canvas, tmp_path):
    """The detection demo's Mask R-CNN (seeded random weights: only the evaluation is under
    test) on 5 held-out canvases: two gloo processes and mmdet's own tools/test.py through mim
    score exactly the boxes and masks tools/test.py scores, with the same COCO metrics."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_detector(Config.fromfile(osp.join(REPO_ROOT, DET_DEMO)))
        model.init_weights()
    checkpoint = tmp_path / 'detector.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)

    def options(name):
        return ['--cfg-options', 'test_dataloader.dataset.indices=5',
                'test_dataloader.batch_size=1', 'test_dataloader.num_workers=0',
                'test_dataloader.persistent_workers=False',
                f'test_evaluator.outfile_prefix={tmp_path / name}']

    out = run_together({
        'test': [sys.executable, 'tools/test.py', DET_DEMO, checkpoint, '--work-dir',
                 tmp_path / 'test', *options('test')],
        'dist': ['bash', 'tools/dist_test.sh', DET_DEMO, checkpoint, '2', '--work-dir',
                 tmp_path / 'dist', *options('dist')],
        'mim': [MIM, 'test', 'mmdet', DET_DEMO, '--checkpoint', checkpoint, '--launcher', 'none',
                '--work-dir', tmp_path / 'mim', *options('mim')],
    }, tmp_path, dist=dict(PYTHON=sys.executable))
    single = printed_metrics(out['test'])
    assert 0 <= single['coco/bbox_mAP'] <= 1 and 0 <= single['coco/segm_mAP'] <= 1
    assert 'GPU number: 2' in out['dist']
    assert printed_metrics(out['dist']) == single
    [logged] = re.findall(r'Epoch\(test\) \[5/5\]\s+coco/bbox_mAP: ([\d.]+)', out['mim'])
    assert float(logged) == single['coco/bbox_mAP']

    expected = {kind: json.load(open(f'{tmp_path / "test"}.{kind}.json'))
                for kind in ('bbox', 'segm')}
    assert {r['image_id'] for r in expected['bbox']} == set(range(5))  # every image predicted
    for name in ('dist', 'mim'):
        for kind in ('bbox', 'segm'):
            assert json.load(open(f'{tmp_path / name}.{kind}.json')) == expected[kind], name
