"""Evaluate a checkpoint with any raftmlp_mm config (metrics come from the config's test_evaluator).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
    bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [same args]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from mmengine.dist import is_main_process  # noqa: E402

from raftmlp_mm.engine.startup_checks import check_data_root  # noqa: E402
from raftmlp_mm.launch import (add_launch_args, build_runner, load_config,  # noqa: E402
                               parse_launch_args)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a raftmlp_mm checkpoint')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint to evaluate')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    add_launch_args(parser)
    return parse_launch_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint {args.checkpoint} does not exist')
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    check_data_root('test_dataloader', cfg.get('test_dataloader'))
    runner = build_runner(cfg, args.launcher)
    metrics = runner.test()
    if is_main_process():
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()})


if __name__ == '__main__':
    main()
