"""Export a raftmlp_mm classifier, or the backbone of any raftmlp_mm config, to ONNX.

    python tools/deployment/export_onnx.py CONFIG [CHECKPOINT] --out model.onnx --shape 224 224
        [--backbone-only] [--torchscript model.pt] [--torch-export model.pt2] [--verify] [--force]

Classification configs export the whole classifier: input ``input`` (N, 3, H, W) float32, the
normalised image the config's data_preprocessor would give; output ``logits`` (N, classes),
before softmax. ``--backbone-only`` exports the backbone of any config (mmpretrain, mmdet or
mmseg): outputs ``feat0``, ``feat1``, ... are its feature maps, NCHW. The graph is fixed to the
given batch and size (opset 17). ``--verify`` runs the file in onnxruntime and fails when it
differs from torch by more than ``--atol`` (1e-4).
"""
import argparse
import math
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# torch and the plugin are imported in main(), after the cheap checks of the arguments


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Export a raftmlp_mm classifier or backbone to ONNX (and TorchScript)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (default: random weights)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs='+', metavar='SIZE',
                        help='input height and width (one value: square); default: the '
                             "backbone's img_size")
    parser.add_argument('--batch', type=int, default=1, help='fixed batch size of the graph')
    parser.add_argument('--backbone-only', action='store_true',
                        help='export the backbone (feature maps) instead of the classifier')
    parser.add_argument('--torchscript', metavar='PATH', help='also save a torch.jit.trace here')
    parser.add_argument('--torch-export', metavar='PATH',
                        help='also save a torch.export program here (slow: seconds to minutes)')
    parser.add_argument('--verify', action='store_true',
                        help='compare onnxruntime (and the other exports) with torch')
    parser.add_argument('--atol', type=float,
                        help='largest absolute difference --verify accepts (default 1e-4)')
    parser.add_argument('--opset', type=int, help='ONNX opset version (default 17)')
    parser.add_argument('--force', action='store_true', help='overwrite existing output files')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.backbone.img_size=64')
    return parser.parse_args(argv)


def fail(message: str):
    sys.exit(f'error: {message}')


def check_outputs(args):
    paths = [p for p in (args.out, args.torchscript, args.torch_export) if p]
    if len(set(map(osp.abspath, paths))) != len(paths):
        fail(f'--out, --torchscript and --torch-export must be different files, got {paths}')
    for path in paths:
        if osp.exists(path) and not args.force:
            fail(f'{path} already exists: choose another path or pass --force to overwrite it')
        folder = osp.dirname(osp.abspath(path))
        if not osp.isdir(folder):
            fail(f'the folder of {path} does not exist: create {folder} first')


def build_model(cfg):
    import importlib

    from raftmlp_mm.launch import host_of
    registry = importlib.import_module(f'{host_of(cfg)}.registry')
    return registry.MODELS.build(cfg.model)


def load_weights(model, checkpoint: str, backbone_only: bool):
    """Load a tools/train.py checkpoint (or a bare state dict); with ``backbone_only`` also a
    backbone-only one. Missing weights stop the export rather than leave them random."""
    from mmengine.runner.checkpoint import _load_checkpoint
    state = _load_checkpoint(checkpoint, map_location='cpu')
    state = state.get('state_dict', state) if isinstance(state, dict) else state
    target = model
    if backbone_only:
        target = model.backbone
        if any(key.startswith('backbone.') for key in state):
            state = {key[len('backbone.'):]: value for key, value in state.items()
                     if key.startswith('backbone.')}
    try:
        result = target.load_state_dict(state, strict=False)
    except (ValueError, RuntimeError) as exc:
        fail(f'checkpoint {checkpoint} does not fit the model of this config:\n{exc}')
    if result.missing_keys:
        shown = ', '.join(result.missing_keys[:5])
        more = f' and {len(result.missing_keys) - 5} more' if len(result.missing_keys) > 5 else ''
        fail(f'checkpoint {checkpoint} lacks {len(result.missing_keys)} weights of the model '
             f'({shown}{more}): pass the checkpoint trained with this config'
             + ('' if backbone_only else ', or add --backbone-only for a backbone checkpoint'))
    if result.unexpected_keys:
        print(f'warning: {len(result.unexpected_keys)} checkpoint entries are not used, e.g. '
              f'{result.unexpected_keys[0]}')


def input_size(args, backbone):
    """(H, W) from --shape, checked against the backbone's patch grid."""
    if args.shape is None:
        if not hasattr(backbone, 'img_size'):
            fail('this backbone has no img_size to default to: pass --shape H W')
        size = tuple(backbone.img_size)
    elif len(args.shape) in (1, 2):
        size = (args.shape[0], args.shape[-1])
    else:
        fail(f'--shape takes H W (or one value for a square), got {args.shape}')
    if min(size) < 1 or args.batch < 1:
        fail(f'--shape and --batch must be positive, got shape {size}, batch {args.batch}')
    settings = getattr(backbone, 'arch_settings', None)
    if settings is not None:
        # Other sizes are stretched to the next multiple inside the model: an image that does
        # not tile into patches is a preprocessing mistake to fix before export.
        stride = math.prod(settings['patch_sizes'])
        if size[0] % stride or size[1] % stride:
            fit = tuple(max(stride, round(s / stride) * stride) for s in size)
            fail(f'--shape {size[0]} {size[1]} is not divisible by the backbone\'s patch grid: '
                 f'its levels downsample by {stride} in all (patch sizes '
                 f'{settings["patch_sizes"]}). Use multiples of {stride}, e.g. --shape '
                 f'{fit[0]} {fit[1]}')
    return size


def describe_input(cfg) -> str:
    pre = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor') or {}
    if 'mean' not in pre:
        return 'float32 NCHW image'
    rgb = 'RGB' if pre.get('to_rgb') or pre.get('bgr_to_rgb') else 'as loaded (BGR)'
    mean, std = ([round(float(v), 4) for v in pre[key]] for key in ('mean', 'std'))
    return f'float32 NCHW image, {rgb}, normalised as (pixel - {mean}) / {std}'


def verify(checks, reference, atol: float):
    """Print each export's largest difference from torch; exit with an error above ``atol``."""
    from raftmlp_mm.deployment import max_abs_diff
    failed = []
    for what, outputs in checks:
        diff = max_abs_diff(outputs, reference)
        print(f'verify: {what} vs torch: max abs difference {diff:.3g} (tolerance {atol:g})')
        if not diff <= atol:  # also catches NaN
            failed.append(f'{what} differs from torch by {diff:.3g}')
    if failed:
        fail('; '.join(failed) + f', above --atol {atol:g}: the export does not reproduce the '
             'torch model')
    print('verify: OK')


def main(argv=None):
    args = parse_args(argv)
    check_outputs(args)
    if not osp.isfile(args.config):
        fail(f'config file {args.config} does not exist')
    if args.checkpoint and not osp.isfile(args.checkpoint):
        fail(f'checkpoint {args.checkpoint} does not exist')
    import torch

    from raftmlp_mm.deployment import (ONNX_ATOL, ONNX_OPSET, ClassifierLogits, OnnxModel,
                                       example_input, export_onnx, export_program,
                                       export_torchscript, output_list, require, run_program)
    args.atol = ONNX_ATOL if args.atol is None else args.atol
    args.opset = ONNX_OPSET if args.opset is None else args.opset
    try:
        require('onnx')
        if args.verify:
            require('onnxruntime')
    except ImportError as exc:
        fail(str(exc))

    from raftmlp_mm.launch import host_of, load_config
    cfg = load_config(args.config, args.cfg_options)
    host = host_of(cfg)
    if host != 'mmpretrain' and not args.backbone_only:
        fail(f'{args.config} is a config of {host}: only classifiers are exported whole '
             '(detectors and segmentors post-process into variable-size results); add '
             '--backbone-only to export the backbone')
    model = build_model(cfg)
    backbone = model.backbone
    height, width = input_size(args, backbone)
    if args.checkpoint:
        load_weights(model, args.checkpoint, args.backbone_only)
        backbone = model.backbone
    else:
        print('warning: no CHECKPOINT given: exporting randomly initialised weights')
    model.eval()

    in_channels = getattr(backbone, 'in_channels', 3)
    shape = (args.batch, in_channels, height, width)
    module = backbone if args.backbone_only else ClassifierLogits(model)
    x = example_input(shape)
    with torch.no_grad():
        reference = output_list(module(x))
    names = [f'feat{i}' for i in range(len(reference))] if args.backbone_only else ['logits']
    if len(names) != len(reference):
        fail(f'the classifier returns {len(reference)} tensors; its head must return the '
             'logits alone')

    export_onnx(module, args.out, shape, opset=args.opset, output_names=names)
    print(f'ONNX (opset {args.opset}): {args.out}')
    print(f'  input  input {list(shape)}: {describe_input(cfg)}')
    strides = getattr(backbone, 'out_strides', None) if args.backbone_only else None
    for i, (name, out) in enumerate(zip(names, reference)):
        extra = f' (stride {strides[i]})' if strides and len(strides) == len(names) else ''
        print(f'  output {name} {list(out.shape)}{extra}')
    if args.torchscript:
        export_torchscript(module, args.torchscript, shape)
        print(f'TorchScript (torch.jit.trace): {args.torchscript}')
    if args.torch_export:
        export_program(module, shape, args.torch_export)
        print(f'torch.export program: {args.torch_export}')

    if args.verify:
        checks = [('onnxruntime', OnnxModel(args.out)(x))]
        if args.torchscript:
            with torch.no_grad():
                checks.append(('TorchScript', torch.jit.load(args.torchscript)(x)))
        if args.torch_export:
            checks.append(('torch.export', run_program(torch.export.load(args.torch_export), x)))
        verify(checks, reference, args.atol)


if __name__ == '__main__':
    main()
