"""Train any raftmlp_mm config (mmpretrain, mmdet or mmseg: read from its default_scope).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--wandb]
    bash tools/dist_train.sh CONFIG GPUS [same args]     # torchrun, many GPUs / nodes
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from raftmlp_mm.apis import (add_launch_args, add_nonfinite_loss_stop,  # noqa: E402
                             build_runner, check_backbone, check_checkpoints_exist,
                             check_data_roots, enable_wandb, load_config, parse_launch_args,
                             use_amp)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a raftmlp_mm config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or without a value from the latest checkpoint '
                        'in the work dir')
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
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.wandb:
        enable_wandb(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = apply_args(load_config(args.config, args.cfg_options), args)
    # everything that can be checked before the Runner touches the work dir
    if not cfg.resume:  # resuming restores every weight from the work dir
        check_checkpoints_exist(cfg)
    check_backbone(cfg)
    check_data_roots(cfg, ['train_dataloader'] + (['val_dataloader'] if cfg.get('val_cfg') else []))
    add_nonfinite_loss_stop(cfg)
    runner = build_runner(cfg, args.launcher)
    runner.train()


if __name__ == '__main__':
    main()
