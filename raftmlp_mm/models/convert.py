"""Convert checkpoints of the original RaftMLP code (okojoalg/raft-mlp) to raftmlp_mm's layout.

This is the only place that speaks the original's vocabulary. Original keys, per level ``i``:
``levels.i.fn.0.fc`` the multi-scale embedding's Linear, or ``levels.i.fn.1`` the plain patch
embedding's Linear; ``levels.i.fn.{j}`` for j >= 2 the blocks, whose ``.1`` / ``.3`` / ``.5``
are the vertical, horizontal and channel MLPs (``.1`` / ``.3`` = token and channel MLP in a
Mixer block); ``heads.0.1`` the final LayerNorm and ``classifier`` the linear head.
"""
import re
from collections import OrderedDict
from typing import Dict, Optional, Tuple, Union

import torch

from .raftmlp import RaftMLP

_EMBED_CROSS = re.compile(r'^levels\.(\d+)\.fn\.0\.fc\.(weight|bias)$')
_EMBED_LINEAR = re.compile(r'^levels\.(\d+)\.fn\.1\.(weight|bias)$')
_BLOCK = re.compile(r'^levels\.(\d+)\.fn\.(\d+)\.(\d)\.(norm|norm\.1|fn\.0|fn\.3)\.(weight|bias)$')

# (sub-block index, layer) of an original block -> our module name inside RaftMLPBlock.
_RAFT_BLOCK = {
    ('1', 'norm.1'): 'token_mixing.norm_vertical',
    ('1', 'fn.0'): 'token_mixing.mlp_vertical.fc1',
    ('1', 'fn.3'): 'token_mixing.mlp_vertical.fc2',
    ('3', 'norm.1'): 'token_mixing.norm_horizontal',
    ('3', 'fn.0'): 'token_mixing.mlp_horizontal.fc1',
    ('3', 'fn.3'): 'token_mixing.mlp_horizontal.fc2',
    ('5', 'norm'): 'norm',
    ('5', 'fn.0'): 'channel_mlp.fc1',
    ('5', 'fn.3'): 'channel_mlp.fc2',
}
_MIXER_BLOCK = {
    ('1', 'norm.1'): 'token_mixing.norm',
    ('1', 'fn.0'): 'token_mixing.mlp.fc1',
    ('1', 'fn.3'): 'token_mixing.mlp.fc2',
    ('3', 'norm'): 'norm',
    ('3', 'fn.0'): 'channel_mlp.fc1',
    ('3', 'fn.3'): 'channel_mlp.fc2',
}


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the requested (or any known) RaftMLP arch."""


def unwrap_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The tensors of a plain state_dict or of one nested under ``model`` / ``state_dict``."""
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    state = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                        for k, v in checkpoint.items() if isinstance(v, torch.Tensor))
    if not state:
        raise CheckpointMismatchError('the checkpoint holds no tensors: expected an original '
                                      'RaftMLP state_dict (keys like levels.0.fn.2.5.fn.0.weight)')
    return state


def _embedding_weight(weight: torch.Tensor, kernels, in_channels: int, linear: bool):
    """Original embedding Linear weight -> our per-kernel conv weights (C, Cin, k, k)."""
    C = weight.shape[0]
    if linear:  # plain patch embedding: features flattened as (py, px, cin)
        p = kernels[0]
        return [weight.reshape(C, p, p, in_channels).permute(0, 3, 1, 2).contiguous()]
    # multi-scale: per-kernel features concatenated in kernel order, each (cin, ky, kx)
    sizes = [in_channels * k * k for k in kernels]
    chunks = torch.split(weight, sizes, dim=1)
    return [c.reshape(C, in_channels, k, k).contiguous() for c, k in zip(chunks, kernels)]


def _raft_norm_param(value: torch.Tensor, raft_size: int) -> torch.Tensor:
    """The original normalises raft tokens with channels ordered (raft k, member j); ours are
    ordered c = j * o + k. Same LayerNorm, affine parameters permuted."""
    return value.reshape(-1, raft_size).t().reshape(-1).contiguous()


def convert_original_state_dict(state: Dict[str, torch.Tensor], model: RaftMLP,
                                head_prefix: str = 'head.fc.') -> 'OrderedDict[str, torch.Tensor]':
    """Rename and re-lay out an original state_dict for ``model`` (keys without ``backbone.``).

    Returns backbone keys as they are in ``model`` plus the classifier under ``head_prefix``.
    Raises CheckpointMismatchError naming the keys or shapes that do not fit.
    """
    settings = model.arch_settings
    mixer = settings['token_mixing'] == 'mixer'
    out, unknown = OrderedDict(), []
    for key, value in state.items():
        if m := _EMBED_CROSS.match(key) or _EMBED_LINEAR.match(key):
            level, kind = int(m.group(1)), m.group(2)
            if level >= len(settings['depths']):
                unknown.append(key)
                continue
            prefix = f'levels.{level}.patch_embed.'
            if kind == 'bias':
                out[prefix + 'bias'] = value
                continue
            in_channels = model.in_channels if level == 0 else settings['channels'][level - 1]
            kernels = settings['embed_kernels'][level]
            linear = m.re is _EMBED_LINEAR
            expected = (settings['channels'][level], in_channels * sum(k * k for k in kernels))
            if tuple(value.shape) != expected or (linear and len(kernels) > 1):
                kind = 'plain' if linear else 'multi-scale'
                raise CheckpointMismatchError(
                    f'{key}: a {kind} patch embedding of shape {tuple(value.shape)}, but level '
                    f'{level} of this arch has kernels {kernels}, i.e. shape {expected}')
            for n, w in enumerate(_embedding_weight(value, kernels, in_channels, linear)):
                out[f'{prefix}weights.{n}'] = w
        elif m := _BLOCK.match(key):
            level, fn_index, sub, layer, kind = m.groups()
            name = (_MIXER_BLOCK if mixer else _RAFT_BLOCK).get((sub, layer))
            if name is None:
                unknown.append(key)
                continue
            if name.startswith('token_mixing.norm_'):
                value = _raft_norm_param(value, settings['raft_sizes'][int(level)])
            out[f'levels.{level}.blocks.{int(fn_index) - 2}.{name}.{kind}'] = value
        elif key.startswith('heads.0.1.'):
            out['norm.' + key[len('heads.0.1.'):]] = value
        elif key.startswith('classifier.'):
            out[head_prefix + key[len('classifier.'):]] = value
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointMismatchError(
            f'{len(unknown)} keys are not from an original RaftMLP checkpoint of this kind, e.g. '
            f'{unknown[:5]}')
    check_against_model(out, model, head_prefix)
    return out


def check_against_model(converted: Dict[str, torch.Tensor], model: RaftMLP, head_prefix: str):
    """Raise CheckpointMismatchError when the converted backbone does not fit ``model``.

    The backbone's own loading decides (``RaftMLP._load_from_state_dict``, the one place that
    knows what fits), so the converter reports the keys and shapes a training run would.
    """
    backbone = {k: v for k, v in converted.items() if not k.startswith(head_prefix)}
    own = model.state_dict()
    missing = sorted(set(own) - set(backbone))  # outside ``levels`` the backbone tolerates these
    try:
        with torch.no_grad():
            model.load_state_dict(backbone, strict=False)
    except ValueError as error:
        raise CheckpointMismatchError(str(error)) from None
    if missing:
        raise CheckpointMismatchError(f'the checkpoint lacks {len(missing)} weights of the '
                                      f'{model.arch_name!r} backbone, e.g. {missing[:4]}')


def detect_arch(state: Dict[str, torch.Tensor], img_size: int = 224) -> Tuple[str, RaftMLP]:
    """The one published arch whose layout the original state_dict fits exactly."""
    errors = {}
    for name in RaftMLP.arch_zoo:
        if len(name) == 1:  # skip the one-letter aliases s / m / l
            continue
        with torch.device('meta'):
            model = RaftMLP(arch=name, img_size=img_size)
        try:
            convert_original_state_dict(state, model)
            return name, model
        except CheckpointMismatchError as e:
            errors[name] = str(e)
    detail = '\n'.join(f'  {name}: {err}' for name, err in errors.items())
    raise CheckpointMismatchError(
        f'the checkpoint matches no published RaftMLP arch at img_size {img_size}; pass --arch '
        f'(and --img-size) if it is another one. Per arch:\n{detail}')


def convert_to_mmpretrain(checkpoint: dict, arch: Optional[Union[str, dict]] = None,
                          img_size: int = 224) -> dict:
    """An original checkpoint -> an mmpretrain checkpoint dict (``state_dict`` + ``meta``)."""
    state = unwrap_state_dict(checkpoint)
    if arch is None:
        arch, model = detect_arch(state, img_size)
    else:
        with torch.device('meta'):
            model = RaftMLP(arch=arch, img_size=img_size)
    converted = convert_original_state_dict(state, model)
    state_dict = OrderedDict(
        (k if k.startswith('head.') else 'backbone.' + k, v) for k, v in converted.items())
    num_classes = state['classifier.weight'].shape[0] if 'classifier.weight' in state else None
    return dict(state_dict=state_dict,
                meta=dict(arch=arch, img_size=img_size, num_classes=num_classes,
                          converted_from='original RaftMLP (okojoalg/raft-mlp)'))


def arch_from_original_config(config: dict) -> dict:
    """An original model config (``layers`` list + mixing/embedding type) -> our arch dict."""
    mixing = {'ser_pm': 'raft', 'original_tm': 'mixer'}[config['token_mixing_type']]
    cross = config['embedding_type'] == 'emb_cross_mlp'
    layers = config['layers']
    return dict(
        depths=[layer['depth'] for layer in layers],
        channels=[layer['dim'] for layer in layers],
        patch_sizes=[layer['patch_size'] for layer in layers],
        raft_sizes=[layer.get('raft_size') if mixing == 'raft' else None for layer in layers],
        embed_kernels=[list(layer['embedding_kernels']) if cross else [layer['patch_size']]
                       for layer in layers],
        token_mixing=mixing)
