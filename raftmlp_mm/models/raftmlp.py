"""RaftMLP: an attention-free MLP backbone with raft token mixing.

Paper: Y. Tatsunami and M. Taki, "RaftMLP: How Much Can Be Done Without Attention and with Less
Spatial Locality?", arXiv 2108.04384. Original code: https://github.com/okojoalg/raft-mlp.

The file reads top-down, as the paper builds the network: token mixing (raft, and the MLP-Mixer
baseline), the block, the patch embedding, the level, the pyramid adapter for single-level archs,
the backbone and, at its end, the arch table. Where this port departs from the original on
purpose is listed in README.md ("Where we depart from the original on purpose").

Inside a level, tokens are kept contiguous channels-last as (B, h, w, C); levels exchange NCHW
maps. Every MLP is ``fast_mlp.Mlp`` (Linear, GELU, Linear), whose fast CPU path and its switch
are described in that module; docs/benchmarks.md explains the memory layout and the timings.
Bicubic resampling (to and from the token-MLP grids, and to a multiple of the patch) is two
matrix products per map, exact to ``F.interpolate`` (``resample.py``).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.drop import DropPath
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..registry import MODELS
from .fast_mlp import Mlp
from .resample import resize_bicubic, resize_bicubic_tokens


class RaftTokenMixing(nn.Module):
    """Vertical, then horizontal token mixing over rafts of channels.

    Channel c = j * o + k belongs to raft k (o = C / r rafts of r channels, strided as in the
    original code). The vertical MLP sees, for one raft and one image column, the r channels'
    whole columns concatenated: a vector over (j, y) of length r * h. The horizontal MLP does the
    same over (j, x). Each sub-block is pre-norm residual with its own LayerNorm.
    """

    def __init__(self, channels: int, grid_size: Tuple[int, int], raft_size: int,
                 expansion: int, drop: float = 0., drop_path: float = 0.):
        super().__init__()
        if channels % raft_size:
            raise ValueError(f'raft size {raft_size} does not divide the level\'s {channels} '
                             'channels: choose a raft size that is a divisor of the channels')
        self.raft_size = raft_size
        grid_h, grid_w = grid_size
        self.norm_vertical = nn.LayerNorm(channels)
        self.mlp_vertical = Mlp(dims=raft_size * grid_h,
                                hidden_dims=expansion * raft_size * grid_h, drop=drop)
        self.norm_horizontal = nn.LayerNorm(channels)
        self.mlp_horizontal = Mlp(dims=raft_size * grid_w,
                                  hidden_dims=expansion * raft_size * grid_w, drop=drop)
        self.drop_path = DropPath(drop_prob=drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        r, o = self.raft_size, C // self.raft_size
        # The MLP inputs are laid out with one row per raft and column (row); their outputs are
        # added back through a permuted view, so the residual stream stays (B, H, W, C) in memory
        # and no copy back is made.
        # vertical: (B, H, W, r, o) -> (B, o, W, r, H) -> (B, o, W, r*H)
        y = self.norm_vertical(x).view(B, H, W, r, o)
        y = y.permute(0, 4, 2, 3, 1).reshape(B, o, W, r * H)
        y = self.mlp_vertical(y).view(B, o, W, r, H).permute(0, 4, 2, 3, 1)  # (B, H, W, r, o)
        x = (x.reshape(B, H, W, r, o) + self.drop_path(y)).view(B, H, W, C)
        # horizontal: (B, H, W, r, o) -> (B, o, H, r, W) -> (B, o, H, r*W)
        y = self.norm_horizontal(x).view(B, H, W, r, o)
        y = y.permute(0, 4, 1, 3, 2).reshape(B, o, H, r * W)
        y = self.mlp_horizontal(y).view(B, o, H, r, W).permute(0, 2, 4, 3, 1)  # (B, H, W, r, o)
        return (x.view(B, H, W, r, o) + self.drop_path(y)).view(B, H, W, C)


class MixerTokenMixing(nn.Module):
    """MLP-Mixer token mixing (Tolstikhin et al., arXiv 2105.01601): one MLP over all h*w tokens."""

    def __init__(self, channels: int, grid_size: Tuple[int, int], expansion: int,
                 drop: float = 0., drop_path: float = 0.):
        super().__init__()
        num_tokens = grid_size[0] * grid_size[1]
        self.norm = nn.LayerNorm(channels)
        self.mlp = Mlp(dims=num_tokens, hidden_dims=expansion * num_tokens, drop=drop)
        self.drop_path = DropPath(drop_prob=drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        y = self.norm(x).reshape(B, H * W, C).transpose(1, 2)  # (B, C, N): mix along tokens
        y = self.mlp(y).transpose(1, 2)  # (B, N, C), added through the view: no copy back
        return (x.reshape(B, H * W, C) + self.drop_path(y)).view(B, H, W, C)


class RaftMLPBlock(nn.Module):
    """Token mixing at the pretraining grid, then channel mixing at the run-time grid.

    The token-mixing MLPs have weights sized for ``grid_size``. Any other run-time grid is
    bicubically resampled to it before token mixing and back afterwards, as the original does:
    the token-mixing residuals live inside that resampled region.
    """

    def __init__(self, channels: int, grid_size: Tuple[int, int], token_mixing: str,
                 raft_size: Optional[int], token_expansion: int, channel_expansion: int,
                 drop: float = 0., drop_path: float = 0.):
        super().__init__()
        self.grid_size = tuple(grid_size)
        if token_mixing == 'raft':
            self.token_mixing = RaftTokenMixing(
                channels=channels, grid_size=grid_size, raft_size=raft_size,
                expansion=token_expansion, drop=drop, drop_path=drop_path)
        else:
            self.token_mixing = MixerTokenMixing(
                channels=channels, grid_size=grid_size, expansion=token_expansion, drop=drop,
                drop_path=drop_path)
        self.norm = nn.LayerNorm(channels)
        self.channel_mlp = Mlp(dims=channels, hidden_dims=channel_expansion * channels, drop=drop)
        self.drop_path = DropPath(drop_prob=drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        run_grid = tuple(x.shape[1:3])
        if run_grid == self.grid_size:
            x = self.token_mixing(x)
        else:
            x = resize_bicubic_tokens(x, self.grid_size)
            x = resize_bicubic_tokens(self.token_mixing(x), run_grid)
        return x + self.drop_path(self.channel_mlp(self.norm(x)))


class MultiScalePatchEmbed(nn.Module):
    """Multi-scale ("cross-scale MLP") patch embedding; one kernel gives a plain patch embedding.

    For every kernel k the original extracts k x k patches at stride s = kernels[0] with zero
    padding (k - s) / 2, concatenates all scales' patches and applies one Linear. That equals one
    convolution whose kernel is the sum of the per-scale kernels, each zero-padded to the largest
    size and centred, which is how it is computed here. Parameters keep the original's count.
    """

    def __init__(self, in_channels: int, channels: int, kernel_sizes: Sequence[int]):
        super().__init__()
        stride = kernel_sizes[0]
        if any(k % stride or k < stride for k in kernel_sizes):
            raise ValueError(f'embedding kernels {list(kernel_sizes)} must be multiples of the '
                             f'patch size {stride} (the first kernel): e.g. [{stride}, '
                             f'{2 * stride}]')
        self.kernel_sizes = list(kernel_sizes)
        self.stride = stride
        self.in_channels = in_channels
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(channels, in_channels, k, k)) for k in kernel_sizes)
        self.bias = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    def reset_parameters(self):
        # nn.Linear's default init over the concatenated fan-in, as the original's single Linear.
        bound = 1. / math.sqrt(self.in_channels * sum(k * k for k in self.kernel_sizes))
        for w in self.weights:
            nn.init.uniform_(w, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def fused_kernel(self) -> torch.Tensor:
        if len(self.weights) == 1:
            return self.weights[0]
        largest = max(self.kernel_sizes)
        return sum(F.pad(w, [(largest - w.shape[-1]) // 2] * 4) for w in self.weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        largest = max(self.kernel_sizes)
        return F.conv2d(x, self.fused_kernel(), self.bias, stride=self.stride,
                        padding=(largest - self.stride) // 2)


class RaftMLPLevel(nn.Module):
    """A level: stretch the input to a multiple of the patch, embed, then ``depth`` blocks."""

    def __init__(self, in_channels: int, channels: int, depth: int, patch_size: int,
                 embed_kernels: Sequence[int], grid_size: Tuple[int, int], token_mixing: str,
                 raft_size: Optional[int], token_expansion: int, channel_expansion: int,
                 drop: float, drop_path: float):
        super().__init__()
        if embed_kernels[0] != patch_size:
            raise ValueError(f'the first embedding kernel {embed_kernels[0]} must equal the '
                             f'patch size {patch_size}: it sets the stride')
        self.patch_size = patch_size
        self.patch_embed = MultiScalePatchEmbed(in_channels, channels, embed_kernels)
        self.blocks = nn.ModuleList(
            RaftMLPBlock(channels=channels, grid_size=grid_size, token_mixing=token_mixing,
                         raft_size=raft_size, token_expansion=token_expansion,
                         channel_expansion=channel_expansion, drop=drop, drop_path=drop_path)
            for _ in range(depth))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW map -> tokens (B, h, w, C) on a grid of ceil(H / p) x ceil(W / p)."""
        p = self.patch_size
        H, W = x.shape[-2:]
        x = resize_bicubic(x, (math.ceil(H / p) * p, math.ceil(W / p) * p))
        # A channels-last convolution gives channels-last output, so the tokens are contiguous
        # (B, h, w, C) without a copy; every later LayerNorm and reshape relies on that.
        x = self.patch_embed(x.contiguous(memory_format=torch.channels_last))
        return x.permute(0, 2, 3, 1).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return x.permute(0, 3, 1, 2)  # (B, h, w, C) -> (B, C, h, w)


class SingleLevelPyramid(nn.Module):
    """Turns four stride-16 maps of a single-level arch into a 4/8/16/32 pyramid.

    Deconvolutions up, identity, max-pool down, as ViTDet / BEiT do for plain backbones
    (Li et al., arXiv 2203.16527; Bao et al., arXiv 2106.08254). The original RaftMLP fed four
    stride-16 maps to heads built for strides 4-32; this makes anchors and RoI strides match.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.up4 = nn.Sequential(
            nn.ConvTranspose2d(channels, channels, 2, stride=2), nn.BatchNorm2d(channels),
            nn.GELU(), nn.ConvTranspose2d(channels, channels, 2, stride=2))
        self.up2 = nn.ConvTranspose2d(channels, channels, 2, stride=2)
        self.identity = nn.Identity()
        self.down2 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

    def forward(self, maps: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        layers = (self.up4, self.up2, self.identity, self.down2)
        return [layer(x) for layer, x in zip(layers, maps)]


@MODELS.register_module()
class RaftMLP(BaseModule):
    """RaftMLP backbone for classification, detection and segmentation.

    Args:
        arch: a name from ``arch_zoo`` (``small``/``s``, ``medium``/``m``, ``large``/``l``,
            ``hierarchy-medium``, ``org-mixer``, ``raft-r1``, ``raft-r2``, ``raft-r4``) or a dict
            with the keys of ``arch_keys``, one list entry per level.
        img_size: pretraining size; it fixes every level's token-MLP grid. Other inputs are
            resampled to those grids inside each block, as in the paper.
        in_channels: image channels.
        token_expansion, channel_expansion: hidden-width factors of the token and channel MLPs.
        drop_rate: dropout inside the MLPs.
        drop_path_rate: stochastic depth, the same rate on every residual branch (as the original).
        out_indices: which outputs to return. Hierarchical archs: levels 0-3 (strides 4-32).
            Single-level archs: 0 (stride 16), or 0-3 of the pyramid when ``pyramid_blocks`` is set.
        pyramid_blocks: single-level archs only: four block indices whose outputs form a
            stride 4/8/16/32 pyramid for dense heads (e.g. ``(3, 5, 7, 11)``).
        frozen_stages: freeze the first ``frozen_stages`` levels (embedding and blocks); -1 = none.
        norm_eval: keep BatchNorm layers (the pyramid adapter's) in eval mode while training.
        final_norm: LayerNorm on the last block's output, as the classifier head of the paper.
        init_cfg: MMEngine init config, e.g. ``dict(type='Pretrained', checkpoint=...,
            prefix='backbone.')``. Default: PyTorch's default init, as the original.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 in_channels: int = 3,
                 token_expansion: int = 2,
                 channel_expansion: int = 4,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 out_indices: Union[int, Sequence[int]] = -1,
                 pyramid_blocks: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 final_norm: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self._parse_arch(arch)
        self.arch_name = arch if isinstance(arch, str) else 'custom'
        self.in_channels = in_channels
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.first_patch_size = self.arch_settings['patch_sizes'][0]
        self.grid_sizes = self._token_grids()
        self._build_levels(token_expansion=token_expansion, channel_expansion=channel_expansion,
                           drop_rate=drop_rate, drop_path_rate=drop_path_rate)
        self.final_norm = final_norm
        if final_norm:
            self.norm = nn.LayerNorm(self.num_features)
        strides = self._build_pyramid(pyramid_blocks)
        self._select_outputs(out_indices, strides)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._freeze_stages()

    # construction, step by step

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> dict:
        """The settings of a named arch (``arch_zoo``) or a checked custom dict."""
        if isinstance(arch, str):
            key = arch.lower()
            if key not in cls.arch_zoo:
                raise ValueError(f'unknown RaftMLP arch {arch!r}; choose one of '
                                 f'{sorted(cls.arch_zoo)} or pass a dict with keys '
                                 f'{list(cls.arch_keys)}')
            return cls.arch_zoo[key]
        if not isinstance(arch, dict) or set(arch) != set(cls.arch_keys):
            got = sorted(arch) if isinstance(arch, dict) else type(arch).__name__
            raise ValueError(f'a custom RaftMLP arch needs exactly the keys {list(cls.arch_keys)}, '
                             f'got {got}; or use one of {sorted(cls.arch_zoo)}')
        if arch['token_mixing'] not in ('raft', 'mixer'):
            raise ValueError("token_mixing must be 'raft' or 'mixer', got "
                             f"{arch['token_mixing']!r}")
        lengths = {k: len(arch[k]) for k in cls.arch_keys if k != 'token_mixing'}
        if len(set(lengths.values())) != 1:
            raise ValueError('custom arch lists must have one entry per level, got lengths '
                             f'{lengths}')
        return dict(arch)

    def _token_grids(self) -> List[Tuple[int, int]]:
        """Every level's token grid at the pretraining size: the token MLPs are sized for it."""
        patch_sizes = self.arch_settings['patch_sizes']
        grid, grids = self.img_size, []
        for level, p in enumerate(patch_sizes):
            if grid[0] % p or grid[1] % p:
                raise ValueError(
                    f'img_size {self.img_size} is not divisible down the levels: level {level} '
                    f'gets a {grid[0]}x{grid[1]} map and patch size {p}. Use a multiple of '
                    f'{math.prod(patch_sizes)}, e.g. 224')
            grid = (grid[0] // p, grid[1] // p)
            grids.append(grid)
        return grids

    def _build_levels(self, token_expansion: int, channel_expansion: int, drop_rate: float,
                      drop_path_rate: float):
        """``levels``: one embedding and its blocks per level; ``num_features``: the last width."""
        settings = self.arch_settings
        self.levels = nn.ModuleList()
        level_in = self.in_channels
        for i, channels in enumerate(settings['channels']):
            self.levels.append(RaftMLPLevel(
                in_channels=level_in, channels=channels, depth=settings['depths'][i],
                patch_size=settings['patch_sizes'][i], embed_kernels=settings['embed_kernels'][i],
                grid_size=self.grid_sizes[i], token_mixing=settings['token_mixing'],
                raft_size=settings['raft_sizes'][i], token_expansion=token_expansion,
                channel_expansion=channel_expansion, drop=drop_rate, drop_path=drop_path_rate))
            level_in = channels
        self.num_features = level_in

    def _build_pyramid(self, pyramid_blocks: Optional[Sequence[int]]) -> List[int]:
        """The stride 4-32 adapter of a single-level arch, if asked for.

        Sets ``pyramid_blocks``, ``pyramid`` and ``out_channels_all`` (the channels of every
        output index) and returns the stride of every output index.
        """
        settings = self.arch_settings
        num_levels = len(settings['depths'])
        strides = [math.prod(settings['patch_sizes'][:i + 1]) for i in range(num_levels)]
        self.pyramid_blocks = None
        if pyramid_blocks is None:
            self.out_channels_all = list(settings['channels'])
            return strides
        if num_levels != 1:
            raise ValueError('pyramid_blocks is for single-level archs (org-mixer, raft-r*); '
                             'hierarchical archs already output strides 4/8/16/32')
        depth = settings['depths'][0]
        blocks = list(pyramid_blocks)
        if len(blocks) != 4 or blocks != sorted(set(blocks)) or not 0 <= blocks[0] < \
                blocks[-1] < depth:
            raise ValueError(f'pyramid_blocks needs 4 increasing block indices in '
                             f'[0, {depth}), got {pyramid_blocks}')
        self.pyramid_blocks = tuple(pyramid_blocks)
        self.pyramid = SingleLevelPyramid(self.num_features)
        self.out_channels_all = [self.num_features] * 4
        return [strides[0] // 4, strides[0] // 2, strides[0], strides[0] * 2]

    def _select_outputs(self, out_indices: Union[int, Sequence[int]], strides: List[int]):
        """``out_indices`` (made non-negative) and their ``out_strides`` and ``out_channels``."""
        num_outputs = len(strides)
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        self.out_indices = []
        for index in out_indices:
            if not -num_outputs <= index < num_outputs:
                raise ValueError(f'out_indices {list(out_indices)} out of range: this model has '
                                 f'{num_outputs} outputs (0..{num_outputs - 1}, or negative)')
            self.out_indices.append(index % num_outputs)
        self.out_strides = [strides[i] for i in self.out_indices]
        self.out_channels = [self.out_channels_all[i] for i in self.out_indices]

    # loading

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Whether a checkpoint fits this backbone: it stops on one that does not.

        This is the one place that decides it. PyTorch and MMEngine only log shape mismatches
        and leave those weights random, so a checkpoint of another variant or ``img_size`` is
        refused here with the keys and shapes that differ and the fix. The token MLPs are
        r * h and r * w wide, so a checkpoint of another ``img_size`` differs there even for the
        same arch. Keys outside ``levels`` (the final norm, the pyramid adapter) may
        legitimately be absent and stay with MMEngine's warnings.
        """
        own = {name: value.shape for name, value in self.state_dict().items()}
        given = {key[len(prefix):]: value for key, value in state_dict.items()
                 if key.startswith(prefix)}
        mismatched = [f'{name}: checkpoint {tuple(given[name].shape)}, model {tuple(shape)}'
                      for name, shape in own.items()
                      if name in given and hasattr(given[name], 'shape')
                      and given[name].shape != shape]
        missing = [n for n in own if n.startswith('levels.') and n not in given]
        unexpected = [n for n in given if n.startswith('levels.') and n not in own]
        if given and (mismatched or missing or unexpected):
            def listing(title, names):
                shown = names[:8] + ([f'... {len(names) - 8} more'] if len(names) > 8 else [])
                return [f'  {title} ({len(names)}):'] + [f'    {prefix}{n}' for n in shown]
            lines = [f'checkpoint does not fit this RaftMLP (arch {self.arch_name!r}, '
                     f'img_size {self.img_size}):']
            for title, names in (('shape mismatches', mismatched), ('missing keys', missing),
                                 ('unexpected keys', unexpected)):
                if names:
                    lines += listing(title, names)
            nested = [key[:-len(missing[0])] for key in given
                      if missing and key.endswith('.' + missing[0])]
            if nested:  # e.g. a whole classifier's state dict loaded without prefix='backbone.'
                lines.append(f'Fix: the checkpoint nests the backbone under {nested[0]!r}: load '
                             f"it with init_cfg=dict(type='Pretrained', checkpoint=..., "
                             f'prefix={nested[0]!r}).')
            else:
                lines.append('Fix: set the backbone arch and img_size to those the checkpoint '
                             'was trained with (token-MLP widths are raft_size x img_size / '
                             'stride, so img_size must match too), or load a checkpoint of '
                             'this variant.')
            raise ValueError('\n'.join(lines))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # forward

    def _check_input(self, x: torch.Tensor):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'RaftMLP expects (B, {self.in_channels}, H, W) images, got shape '
                             f'{tuple(x.shape)}: convert the images to {self.in_channels} channels '
                             'or set in_channels')
        if min(x.shape[-2:]) < self.first_patch_size:
            raise ValueError(f'input {tuple(x.shape[-2:])} is smaller than the first patch '
                             f'({self.first_patch_size} px): resize or pad images to at least that')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._check_input(x)
        if self.pyramid_blocks is not None:
            return self._forward_pyramid(x)
        outs = []
        last = len(self.levels) - 1
        for i, level in enumerate(self.levels):
            x = level(x)
            if i == last and self.final_norm:
                x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            if i in self.out_indices:
                # NCHW-contiguous, as every OpenMMLab backbone's outputs: the levels run
                # channels-last inside, but mmcv's CPU ops (RoIAlign among them) read raw NCHW
                # memory and would silently gather wrong features from a channels-last map.
                outs.append(x.contiguous())
        return tuple(outs)

    def _forward_pyramid(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        level = self.levels[0]
        x = level.embed(x)
        taps = []
        for i, block in enumerate(level.blocks):
            x = block(x)
            if i == len(level.blocks) - 1 and self.final_norm:
                x = self.norm(x)
            if i in self.pyramid_blocks:
                taps.append(x.permute(0, 3, 1, 2))
        maps = self.pyramid(taps)
        return tuple(maps[i].contiguous() for i in self.out_indices)  # NCHW, as in forward

    # training modes

    def _freeze_stages(self):
        for i in range(min(self.frozen_stages, len(self.levels))):
            level = self.levels[i]
            level.eval()
            for param in level.parameters():
                param.requires_grad = False
        if self.frozen_stages >= len(self.levels) and self.final_norm:
            for param in self.norm.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # the arch table: one entry per level in every list

    arch_keys = ('depths', 'channels', 'patch_sizes', 'raft_sizes', 'embed_kernels',
                 'token_mixing')
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['s', 'small'], dict(
            depths=[2, 2, 6, 2], channels=[64, 128, 256, 512], patch_sizes=[4, 2, 2, 2],
            raft_sizes=[2, 2, 2, 2], embed_kernels=[[4, 8], [2, 4], [2, 4], [2]],
            token_mixing='raft')),
        **dict.fromkeys(['m', 'medium'], dict(
            depths=[2, 2, 6, 2], channels=[96, 192, 384, 768], patch_sizes=[4, 2, 2, 2],
            raft_sizes=[2, 2, 2, 2], embed_kernels=[[4, 8], [2, 4], [2, 4], [2]],
            token_mixing='raft')),
        **dict.fromkeys(['l', 'large'], dict(
            depths=[2, 2, 6, 2], channels=[128, 192, 512, 1024], patch_sizes=[4, 2, 2, 2],
            raft_sizes=[2, 2, 2, 2], embed_kernels=[[4, 8], [2, 4], [2, 4], [2]],
            token_mixing='raft')),
        # ablation: RaftMLP-M with a plain linear patch embedding
        'hierarchy-medium': dict(
            depths=[2, 2, 6, 2], channels=[96, 192, 384, 768], patch_sizes=[4, 2, 2, 2],
            raft_sizes=[2, 2, 2, 2], embed_kernels=[[4], [2], [2], [2]], token_mixing='raft'),
        # baseline: MLP-Mixer-B/16 as retrained by the authors (token hidden width 2 * 196)
        'org-mixer': dict(
            depths=[12], channels=[768], patch_sizes=[16], raft_sizes=[None],
            embed_kernels=[[16]], token_mixing='mixer'),
        # ablation: single level, raft size r = 1, 2, 4
        **{f'raft-r{r}': dict(
            depths=[12], channels=[768], patch_sizes=[16], raft_sizes=[r],
            embed_kernels=[[16]], token_mixing='raft') for r in (1, 2, 4)},
    }
