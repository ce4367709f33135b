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


def _is_raftmlp(node) -> bool:
    return isinstance(node, dict) and str(node.get('type', '')).split('.')[-1] == 'RaftMLP'


def _local_checkpoint(checkpoint) -> bool:
    return isinstance(checkpoint, str) and '://' not in checkpoint and osp.isfile(checkpoint)


def check_backbone(cfg: Config):
    """Build a RaftMLP backbone before the Runner does, so its errors come before any work dir.

    Besides the backbone's own argument checks, this compares the neck's ``in_channels`` with
    what the backbone outputs and loads its pretrained checkpoint (``init_cfg`` or the
    backbone part of ``load_from``), which raises on keys or shapes of another variant.
    """
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_with_prefix

    from ..models import RaftMLP
    model_cfg = cfg.get('model') or {}
    backbone_cfg = model_cfg.get('backbone')
    if not _is_raftmlp(backbone_cfg):
        return None
    kwargs = {k: v for k, v in backbone_cfg.items() if k not in ('type', 'init_cfg')}
    backbone = RaftMLP(**kwargs)

    neck = model_cfg.get('neck')
    if isinstance(neck, dict) and 'in_channels' in neck:
        expected = list(neck['in_channels']) if isinstance(neck['in_channels'], (list, tuple)) \
            else [neck['in_channels']]
        if expected != backbone.out_channels:
            raise ValueError(
                f"model.neck.in_channels is {expected} but the RaftMLP backbone (arch "
                f"{backbone.arch_name!r}, out_indices {backbone.out_indices}) outputs "
                f"{backbone.out_channels} channels: set model.neck.in_channels="
                f"{backbone.out_channels} (e.g. --cfg-options "
                f"model.neck.in_channels=\"{backbone.out_channels}\") or change the backbone")

    init_cfgs = backbone_cfg.get('init_cfg')
    for init_cfg in init_cfgs if isinstance(init_cfgs, list) else [init_cfgs]:
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained' and \
                _local_checkpoint(init_cfg.get('checkpoint')):
            if init_cfg.get('prefix'):
                state = _load_checkpoint_with_prefix(init_cfg['prefix'], init_cfg['checkpoint'],
                                                     map_location='cpu')
            else:
                state = _load_checkpoint(init_cfg['checkpoint'], map_location='cpu')
                state = state.get('state_dict', state)
            _load_naming_source(backbone, state, 'model.backbone.init_cfg.checkpoint',
                                init_cfg['checkpoint'])
    if _local_checkpoint(cfg.get('load_from')) and not cfg.get('resume'):
        state = _load_checkpoint(cfg.load_from, map_location='cpu')
        state = state.get('state_dict', state)
        prefix = 'backbone.'
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if part:
            _load_naming_source(backbone, part, 'load_from', cfg.load_from)
    return backbone


def _load_naming_source(backbone, state: dict, key: str, path: str):
    """Load into the backbone (RaftMLP raises on a misfit); the error also names the file."""
    from mmengine.runner.checkpoint import load_state_dict
    try:
        load_state_dict(backbone, state, strict=False)
    except ValueError as error:
        raise ValueError(f'{key} = {path}: {error}') from None


# What a missing dataset root should contain, by dataset type.
DATASET_LAYOUTS = {
    'CustomDataset': 'DATA_ROOT/<data_prefix>/<class name>/*.png|jpg, one folder per class',
    'ImageNet': 'DATA_ROOT/{train,val}/<wnid>/*.JPEG and DATA_ROOT/meta/{train,val}.txt',
    'INaturalist': 'DATA_ROOT/train_val2018/... images and DATA_ROOT/{train,val}2018.json',
    'CocoDataset': 'DATA_ROOT/annotations/instances_{train,val}2017.json and '
                   'DATA_ROOT/{train,val}2017/*.jpg',
    'ADE20KDataset': 'DATA_ROOT/images/{training,validation}/*.jpg and '
                     'DATA_ROOT/annotations/{training,validation}/*.png',
    'DigitsSegDataset': 'DATA_ROOT/images/{training,validation}/*.jpg and '
                        'DATA_ROOT/annotations/{training,validation}/*.png',
}


def _dataset_cfgs(node):
    """Every dataset config inside a dataset config, through wrappers (Repeat, Concat, ...)."""
    if isinstance(node, dict):
        yield node
        for key in ('dataset', 'datasets'):
            inner = node.get(key)
            for child in inner if isinstance(inner, (list, tuple)) else [inner]:
                yield from _dataset_cfgs(child)


def check_data_roots(cfg: Config, loaders=('train_dataloader', 'val_dataloader')):
    """Fail at start, naming the path and the layout, when a dataset's data_root is absent."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not isinstance(loader_cfg, dict):
            continue
        for dataset in _dataset_cfgs(loader_cfg.get('dataset')):
            root = dataset.get('data_root')
            if not root or osp.isdir(root):
                continue
            kind = str(dataset.get('type', '')).split('.')[-1]
            layout = DATASET_LAYOUTS.get(kind, "the layout of the dataset type's documentation")
            if 'digits' in osp.basename(osp.normpath(root)):
                hint = 'write the demo data with: python tools/misc/make_digits.py'
            else:
                hint = (f'download the dataset there, or point the config at it with '
                        f'--cfg-options {loader}.dataset.data_root=PATH')
            raise FileNotFoundError(
                f'{loader}: dataset root {root} does not exist (absolute: {osp.abspath(root)}). '
                f'Expected layout for {kind or "this dataset"}: {layout}. Fix: {hint}')


def add_nonfinite_loss_stop(cfg: Config):
    """Stop training at the first NaN/inf loss (raftmlp_mm.StopOnNonFiniteLoss), once."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(str(h.get('type', '')).endswith('StopOnNonFiniteLoss') for h in hooks):
        hooks.append(dict(type='raftmlp_mm.StopOnNonFiniteLoss'))
    cfg.custom_hooks = hooks


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
        if launcher == 'pytorch':
            _cpu_distributed(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
