"""Train any raftmlp_mm config (mmpretrain, mmdet or mmseg: read from its default_scope).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--seed N] [--deterministic]
                                 [--amp] [--wandb]
    bash tools/dist_train.sh CONFIG GPUS [same args]     # torchrun, many GPUs / nodes

Training runs with raftmlp_mm's seeded train loop and atomic checkpoints, so a run killed at
any point and restarted with --resume ends with the weights and logs of an uninterrupted run
(README, "Reliability").
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from raftmlp_mm.apis import (add_launch_args, add_nonfinite_loss_stop,  # noqa: E402
                             build_runner, check_backbone, check_checkpoints_exist,
                             check_data_roots, enable_wandb, load_config, parse_launch_args,
                             resolve_resume, use_amp, use_exact_resume)


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
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        use_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError(f'{args.config} has no auto_scale_lr (base_batch_size) to scale by')
        cfg.auto_scale_lr.enable = True
    if args.seed is not None or args.deterministic:
        randomness = dict(cfg.get('randomness') or {})
        if args.seed is not None:
            randomness['seed'] = args.seed
        if args.deterministic:
            randomness['deterministic'] = True
            # cuBLAS refuses deterministic mode without a fixed workspace
            os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        cfg.randomness = randomness
    if args.wandb:
        enable_wandb(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = apply_args(load_config(args.config, args.cfg_options), args)
    # everything that can be checked before the Runner touches the work dir
    resume = args.resume
    if resume is None and cfg.get('resume'):  # resume=True written in the config
        resume = cfg.get('load_from') or 'auto'
    skipped = resolve_resume(cfg, resume)  # picks a checkpoint that loads
    if not cfg.resume:  # resuming restores every weight from the work dir
        check_checkpoints_exist(cfg)
    check_backbone(cfg)
    check_data_roots(cfg, ['train_dataloader'] + (['val_dataloader'] if cfg.get('val_cfg') else []))
    add_nonfinite_loss_stop(cfg)
    use_exact_resume(cfg, skipped)
    runner = build_runner(cfg, args.launcher)
    runner.train()


if __name__ == '__main__':
    main()
