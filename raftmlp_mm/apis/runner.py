"""What tools/train.py and tools/test.py share: one entry for mmpretrain, mmdet and mmseg.

The config's ``default_scope`` names the host. Every host trains with MMEngine's Runner, so the
differences left are the host's module registration and a few CPU-only adjustments: MMEngine's
``pytorch`` launcher assumes CUDA, so without a GPU we start the process group with gloo
ourselves, wrap the model in a CPU DDP and turn SyncBN (which needs CUDA) back into BN.
"""
import argparse
import importlib
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

HOSTS = {
    'mmpretrain': 'mmpretrain.utils',
    'mmdet': 'mmdet.utils',
    'mmseg': 'mmseg.utils',
}


def add_launch_args(parser: argparse.ArgumentParser):
    """The arguments every tool shares: config overrides and the job launcher."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launch_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def host_of(cfg: Config) -> str:
    scope = cfg.get('default_scope')
    if scope not in HOSTS:
        raise ValueError(f"config default_scope is {scope!r}; raftmlp_mm tools run configs of "
                         f"{sorted(HOSTS)}: inherit the host's runtime _base_ or set default_scope")
    return scope


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    host = host_of(cfg)
    # registers the host's modules under its scope (and sets it as the default scope)
    importlib.import_module(HOSTS[host]).register_all_modules(init_default_scope=True)
    return cfg


def _cpu_distributed(cfg: Config):
    """Start torch.distributed with gloo from torchrun's env and make the Runner use it on CPU."""
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))


def _revert_sync_bn(cfg: Config):
    """SyncBN needs CUDA; on CPU the same config trains with plain BN."""
    def visit(node):
        if isinstance(node, dict):
            if node.get('type') in ('SyncBN', 'MMSyncBN'):
                node['type'] = 'BN'
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)
    visit(cfg.model)


def enable_wandb(cfg: Config, project: str = 'raftmlp_mm'):
    """Add MMEngine's W&B backend to the visualizer (WANDB_MODE=offline works without a login)."""
    backends = list(cfg.visualizer.get('vis_backends', [dict(type='LocalVisBackend')]))
    if not any(b.get('type') == 'WandbVisBackend' for b in backends):
        backends.append(dict(type='WandbVisBackend',
                             init_kwargs=dict(project=os.environ.get('WANDB_PROJECT', project))))
    cfg.visualizer.vis_backends = backends


def _pretrained_checkpoints(node, path='model'):
    """(config path, checkpoint) of every ``init_cfg`` of type Pretrained in the model config."""
    if isinstance(node, dict):
        init_cfgs = node.get('init_cfg')
        for init_cfg in init_cfgs if isinstance(init_cfgs, list) else [init_cfgs]:
            if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
                yield f'{path}.init_cfg.checkpoint', init_cfg.get('checkpoint')
        for key, value in node.items():
            if key != 'init_cfg':
                yield from _pretrained_checkpoints(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained_checkpoints(value, f'{path}[{i}]')


def check_checkpoints_exist(cfg: Config):
    """Fail at start, not after data loading, when a local checkpoint the config needs is absent."""
    needed = list(_pretrained_checkpoints(cfg.model))
    if cfg.get('load_from'):
        needed.append(('load_from', cfg.load_from))
    for key, checkpoint in needed:
        scratch = ('' if key == 'load_from' else ' To train from scratch instead: --cfg-options '
                   f'{key[:-len(".init_cfg.checkpoint")]}.init_cfg=None')
        if checkpoint is None:
            raise FileNotFoundError(f'{key} is None: set it with --cfg-options {key}=PATH.'
                                    + scratch)
        if '://' in checkpoint or osp.isfile(checkpoint):
            continue
        raise FileNotFoundError(
            f'{key} = {checkpoint} does not exist. Make it with\n'
            f'  python tools/model_converters/raftmlp_to_mmpretrain.py ORIGINAL.pth {checkpoint}\n'
            f'from the authors\' ImageNet checkpoint, or pretrain with a config of '
            f'configs/classification/ (bash tools/dist_train.sh CONFIG 8) and copy its last '
            f'checkpoint there; or override it with --cfg-options {key}=PATH.' + scratch)


def build_runner(cfg: Config, launcher: str = 'none') -> Runner:
    """The host's Runner for ``cfg``, with the CPU adjustments when there is no GPU."""
    cfg.launcher = launcher
    if not torch.cuda.is_available():
        _revert_sync_bn(cfg)
        if launcher == 'pytorch':
            _cpu_distributed(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
