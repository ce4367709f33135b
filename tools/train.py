"""Train any raftmlp_mm config (mmpretrain, mmdet or mmseg: read from its default_scope).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--seed N] [--deterministic]
                                 [--amp] [--auto-scale-lr] [--wandb] [--cfg-options K=V ...]
    bash tools/dist_train.sh CONFIG GPUS [same args]     # torchrun, many GPUs / nodes

The config names what runs (seeded train loop, atomic checkpoints, non-finite-loss stop, run
record, start-up checks), so this tool runs the same program as ``mim train`` and the hosts'
own tools/train.py. It only adds command-line conveniences and, without CUDA, the gloo start-up
of ``--launcher pytorch`` and SyncBN -> BN (raftmlp_mm/launch.py).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from raftmlp_mm.launch import (add_launch_args, build_runner, enable_wandb,  # noqa: E402
                               load_config, parse_launch_args, use_amp)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a raftmlp_mm config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or without a value from the newest checkpoint '
                        'in the work dir that loads (unreadable ones are reported and skipped)')
    parser.add_argument('--seed', type=int, help='random seed (sets randomness.seed)')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms only (randomness.deterministic): needed '
                        'for repeatable runs on GPU; CPU runs repeat without it')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision: fp16 with '
                        'loss scaling on CUDA, bfloat16 autocast on CPU')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual total batch size (auto_scale_lr)')
    parser.add_argument('--wandb', action='store_true',
                        help='also log to Weights & Biases (WANDB_MODE=offline works offline)')
    add_launch_args(parser)
    return parse_launch_args(parser, argv)


def apply_args(cfg, args):
    """The command line's settings, written into the config (MMEngine dumps it to the work dir)."""
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':  # the newest checkpoint of the work dir that loads
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        use_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError(f'{args.config} has no auto_scale_lr (base_batch_size) to scale by')
        cfg.auto_scale_lr.enable = True
    if args.seed is not None:
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=args.seed)
    if args.deterministic:
        cfg.randomness = dict(cfg.get('randomness') or {}, deterministic=True)
        # cuBLAS refuses deterministic mode without a fixed workspace
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    if args.wandb:
        enable_wandb(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = apply_args(load_config(args.config, args.cfg_options), args)
    build_runner(cfg, args.launcher).train()


if __name__ == '__main__':
    main()
