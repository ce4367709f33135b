"""Set-up of our command-line tools (tools/train.py, tools/test.py, export, memory check).

Only what a config cannot say lives here; what runs is the config's (its train loop, hooks and
checks, ``raftmlp_mm.engine``), the same under ``mim train`` and the hosts' own tools. The
config's ``default_scope`` names the host, whose modules are registered. On a machine without
CUDA, MMEngine's ``pytorch`` and ``slurm`` launchers cannot start (they select a CUDA device),
so we start the process group with gloo ourselves, wrap the model in a CPU DDP and turn SyncBN
(which needs CUDA) back into BN. The CLI conveniences (``--amp``, ``--wandb``) edit the config
in the open: the config MMEngine dumps into the work dir shows them.
"""
import argparse
import importlib
import os
import os.path as osp
import subprocess
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


def _slurm_env():
    """The rendezvous variables MMEngine's slurm start-up derives from Slurm's (mmengine.dist),
    without its torch.cuda.set_device, which a machine without CUDA refuses."""
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        nodes = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {nodes} | head -n1')


def _cpu_distributed(cfg: Config, launcher: str):
    """Start torch.distributed with gloo from torchrun's or Slurm's env; the Runner uses it."""
    if not dist.is_initialized():
        if launcher == 'slurm':
            _slurm_env()
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


def use_amp(cfg: Config):
    """fp16 AMP with dynamic loss scaling on CUDA; bfloat16 autocast on CPU (no scaling needed)."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.type = 'raftmlp_mm.BFloat16AutocastOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        cfg.optim_wrapper.pop('dtype', None)


def build_runner(cfg: Config, launcher: str = 'none') -> Runner:
    """The host's Runner for ``cfg``, with the CPU adjustments when there is no GPU."""
    cfg.launcher = launcher
    if not torch.cuda.is_available():
        _revert_sync_bn(cfg)
        if launcher in ('pytorch', 'slurm'):
            _cpu_distributed(cfg, launcher)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
