"""The GPU path in one short run: mmcv ops, the golden tensors, AMP training per host, a benchmark.

    python tools/misc/gpu_check.py [--device cuda|cpu] [--steps STEP ...] [--work-dir DIR]

Run it on a GPU machine in an environment with the stack installed (docs/install.md, "GPU
users"): it writes the demo data itself and needs no download.

Steps (all by default, in this order; each one runs even if an earlier one failed):
  ops        mmcv's compiled nms and RoIAlign on the device
  golden     the authors' golden tensors (tests/data/golden_tiny.pt) on the device: logits and
             every level output within GOLDEN_ATOL (fp32; TF32 off, as CUDA's default matmuls
             would otherwise round to 10 mantissa bits)
  train-cls, train-det, train-seg
             a few mixed-precision iterations of each host's demo config with tools/train.py
             --amp (fp16 with loss scaling on CUDA, bfloat16 autocast on CPU): the loss must be
             finite and a checkpoint written
  benchmark  tools/analysis_tools/benchmark.py on the device (RaftMLP-S vs ResNet-50, short)
With --device cpu the same logic runs here, so it is tested without a GPU (tests/test_gpu_check.py).
Sized for under 10 minutes on one GPU; prints a table and exits 1 if any step failed.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)  # run from a checkout

GOLDEN_ATOL = 1e-4  # on CUDA (cuDNN / cuBLAS sum in other orders); 1e-5 holds on CPU
DEMOS = {
    'train-cls': ('configs/classification/demo/raftmlp_s_digits.py',
                  ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=64',
                   'val_dataloader.dataset.indices=32']),
    'train-det': ('configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py',
                  ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=8',
                   'train_dataloader.batch_size=2', 'val_dataloader.dataset.indices=4']),
    'train-seg': ('configs/segmentation/demo/fpn_raftmlp_s_digits.py',
                  ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                   'val_dataloader.dataset.indices=4', 'default_hooks.checkpoint.interval=4']),
}
QUIET_LOADERS = [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader')
                 for key in ('num_workers=0', 'persistent_workers=False')]
STEPS = ['ops', 'golden', 'train-cls', 'train-det', 'train-seg', 'benchmark']


def check_ops(device: str) -> str:
    import torch
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]],
                         device=device)
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7], device=device), iou_threshold=0.5)
    assert keep.tolist() == [0, 2], keep
    feats = torch.arange(64., device=device).view(1, 1, 8, 8)
    rois = torch.tensor([[0., 0., 0., 4., 4.]], device=device)
    out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)(feats, rois)
    expected = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)(
        feats.cpu(), rois.cpu())
    assert torch.allclose(out.cpu(), expected, atol=1e-5), (out, expected)
    return f'nms and RoIAlign on {device} agree with the CPU'


def check_golden(device: str) -> str:
    import torch

    from tests.test_fidelity import CASES, SIZES, build_from_golden
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    golden = torch.load(osp.join(REPO_ROOT, 'tests', 'data', 'golden_tiny.pt'))
    worst = 0.
    for name in CASES:
        classifier = build_from_golden(golden[name])[0].to(device)
        for size in SIZES:
            with torch.no_grad():
                logits = classifier(golden[f'input_{size}'].to(device), mode='tensor')
            worst = max(worst, (logits.cpu() - golden[name][f'logits_{size}']).abs().max().item())
    assert worst <= GOLDEN_ATOL, f'logits differ by {worst:.2e} > {GOLDEN_ATOL}'
    return f'{len(CASES)} models x {len(SIZES)} sizes, worst |diff| {worst:.1e} <= {GOLDEN_ATOL}'


def train_demo(step: str, device: str, work_root: str) -> str:
    config, options = DEMOS[step]
    work_dir = osp.join(work_root, step)
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''  # the CPU path even on a GPU machine
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--amp',
           '--work-dir', work_dir, '--cfg-options', *options, *QUIET_LOADERS,
           'default_hooks.logger.interval=1']
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed:\n{result.stderr[-3000:]}')
    [log_dir] = glob.glob(osp.join(work_dir, '2*_*'))  # the run's timestamped log folder
    with open(osp.join(log_dir, 'vis_data', 'scalars.json')) as f:
        losses = [json.loads(line)['loss'] for line in f if '"loss"' in line]
    assert losses and all(abs(loss) < float('inf') for loss in losses), losses
    wrapper = 'AmpOptimWrapper' if device == 'cuda' else 'BFloat16AutocastOptimWrapper'
    with open(osp.join(work_dir, osp.basename(config))) as f:
        assert wrapper in f.read(), f'the run did not use {wrapper}'
    checkpoints = [n for n in os.listdir(work_dir) if n.endswith('.pth')]
    assert checkpoints, 'no checkpoint written'
    return f'{len(losses)} iterations with {wrapper}, last loss {losses[-1]:.3f}'


def run_benchmark(device: str, work_root: str) -> str:
    out = osp.join(work_root, 'benchmark.json')
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py'),
           '--device', device, '--settings', 'cls-infer', 'train-step', '--models', 'small',
           'resnet50', '--repeats', '2', '--iters', '2', '--warmup', '1', '--json', out]
    if device == 'cpu':
        cmd += ['--batch', '2']
    result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed:\n{result.stderr[-3000:]}')
    print(result.stdout)
    return f'table printed above, rows in {out}'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=['cuda', 'cpu'], default='cuda')
    parser.add_argument('--steps', nargs='+', choices=STEPS, default=STEPS)
    parser.add_argument('--work-dir', help='where runs go (default: a temporary folder)')
    args = parser.parse_args(argv)
    import torch
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('no CUDA device here: run on a GPU machine, or --device cpu to check the '
                     'logic on this CPU')
    work_root = args.work_dir or tempfile.mkdtemp(prefix='raftmlp_gpu_check_')
    if any(step.startswith('train-') for step in args.steps):
        subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', 'misc', 'make_digits.py')],
                       cwd=REPO_ROOT, check=True, capture_output=True)
    rows = []
    for step in args.steps:
        start = time.time()
        try:
            if step == 'ops':
                note = check_ops(args.device)
            elif step == 'golden':
                note = check_golden(args.device)
            elif step == 'benchmark':
                note = run_benchmark(args.device, work_root)
            else:
                note = train_demo(step, args.device, work_root)
            rows.append((step, 'PASS', f'{time.time() - start:.0f} s', note))
        except Exception as error:  # report every step, then fail
            rows.append((step, 'FAIL', f'{time.time() - start:.0f} s',
                         f'{type(error).__name__}: {error}'.replace('\n', ' ')[:400]))
        print(f'{rows[-1][0]}: {rows[-1][1]} ({rows[-1][2]}) {rows[-1][3]}', flush=True)
    print(f'\ndevice: {args.device}' + (f' ({torch.cuda.get_device_name()})'
                                        if args.device == 'cuda' else ''))
    print('| step | result | time | note |\n|---|---|---|---|')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    return 1 if any(row[1] == 'FAIL' for row in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
