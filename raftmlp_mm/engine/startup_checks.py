"""What must hold before training loads anything: each failure names the problem and the fix.

``check_before_training`` runs inside the seeded train loops' ``__init__`` (``loops.py``), so
under every launcher it runs after the Runner built the model and before it builds the data,
loads a pretrained checkpoint or touches a checkpoint of the work dir. Whether a checkpoint's
tensors fit the backbone is not checked here: ``RaftMLP._load_from_state_dict`` decides that,
once, while the checkpoint is loaded.
"""
import os.path as osp

from mmengine.config import Config
from mmengine.model import is_model_wrapper


def check_before_training(runner, train_dataloader):
    """The start-up checks of a training run: checkpoints, neck channels, data roots."""
    cfg = runner.cfg
    check_checkpoints_exist(cfg)
    check_neck_channels(runner.model)
    loaders = {'train_dataloader': train_dataloader}
    if cfg.get('val_cfg') and cfg.get('val_dataloader'):
        loaders['val_dataloader'] = cfg.val_dataloader
    for name, loader in loaders.items():
        check_data_root(name, loader)


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


def check_neck_channels(model):
    """The neck's ``in_channels`` must be what the backbone outputs, or the first forward fails
    deep in a convolution (or, with a broadcastable width, trains on the wrong features)."""
    if is_model_wrapper(model):
        model = model.module
    backbone, neck = getattr(model, 'backbone', None), getattr(model, 'neck', None)
    got = getattr(backbone, 'out_channels', None)
    expected = getattr(neck, 'in_channels', None)
    if got is None or expected is None:
        return
    expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    if expected != list(got):
        arch = getattr(backbone, 'arch_name', type(backbone).__name__)
        raise ValueError(
            f'model.neck.in_channels is {expected} but the backbone (arch {arch!r}, '
            f'out_indices {getattr(backbone, "out_indices", "?")}) outputs {list(got)} '
            f'channels: set model.neck.in_channels={list(got)} (e.g. --cfg-options '
            f'model.neck.in_channels="{list(got)}") or change the backbone')


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


def check_data_root(loader: str, loader_cfg):
    """Fail at start, naming the path and the layout, when a dataset's data_root is absent."""
    if not isinstance(loader_cfg, dict):
        return
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
