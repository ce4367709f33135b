"""The RaftMLP backbone: variants, shapes at any size, errors, freezing, tracing."""
import math
import os.path as osp
import re

import pytest
import torch

from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models.convert import convert_original_state_dict

from .conftest import DATA_DIR

# arch name -> reference key list written by the original implementation (1000 classes)
REFERENCE_KEYS = {
    'small': 'small', 'medium': 'medium', 'large': 'large',
    'hierarchy-medium': 'hierarchy-medium', 'org-mixer': 'org-mixer',
    'raft-r1': 'raft-r1', 'raft-r2': 'raft-r2', 'raft-r4': 'raft-r4',
}
TINY = dict(depths=[1, 1, 1, 1], channels=[8, 16, 16, 32], patch_sizes=[4, 2, 2, 2],
            raft_sizes=[2, 2, 4, 2], embed_kernels=[[4, 8], [2, 4], [2], [2]], token_mixing='raft')


def read_reference(name):
    with open(osp.join(DATA_DIR, f'original_keys_{name}.txt')) as f:
        lines = f.read().splitlines()
    total = int(re.search(r'total parameters: (\d+)', lines[1]).group(1))
    shapes = {}
    for line in lines[2:]:
        key, shape = line.split('\t')
        shapes[key] = tuple(int(s) for s in re.findall(r'\d+', shape))
    return total, shapes


@pytest.mark.parametrize('arch', sorted(REFERENCE_KEYS))
def test_parameter_count_and_layout_match_original(arch):
    total, shapes = read_reference(REFERENCE_KEYS[arch])
    with torch.device('meta'):
        model = RaftMLP(arch=arch)
    backbone_params = sum(p.numel() for p in model.parameters())
    classifier_params = 1000 * model.num_features + 1000
    assert backbone_params + classifier_params == total
    # every original tensor has a home of the right shape in our model, and nothing is left over
    state = {k: torch.empty(s, device='meta') for k, s in shapes.items()}
    converted = convert_original_state_dict(state, model)
    assert converted['head.fc.weight'].shape == (1000, model.num_features)


@pytest.mark.parametrize('arch', ['s', 'm', 'l', 'small', 'MEDIUM', 'hierarchy-medium'])
def test_hierarchical_outputs_are_strided_pyramid(arch):
    model = RaftMLP(arch=arch, out_indices=(0, 1, 2, 3), final_norm=False).eval()
    assert model.out_strides == [4, 8, 16, 32]
    assert model.out_channels == model.arch_settings['channels']
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    for out, stride, channels in zip(outs, model.out_strides, model.out_channels):
        assert out.shape == (1, channels, 64 // stride, 96 // stride)


def expected_grid(size, patch_sizes):
    grids = []
    for p in patch_sizes:
        size = tuple(math.ceil(s / p) for s in size)
        grids.append(size)
    return grids


@pytest.mark.parametrize('size', [(224, 224), (256, 320), (800, 1216), (97, 131), (32, 32)])
def test_any_input_size_small(size):
    model = RaftMLP(arch='s', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    grids = expected_grid(size, [4, 2, 2, 2])
    for out, grid, channels in zip(outs, grids, [64, 128, 256, 512]):
        assert out.shape == (1, channels, *grid)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize('arch', ['org-mixer', 'raft-r1', 'raft-r2', 'raft-r4'])
def test_single_level_pyramid_strides(arch):
    model = RaftMLP(arch=arch, out_indices=(0, 1, 2, 3), pyramid_blocks=(3, 5, 7, 11)).eval()
    assert model.out_strides == [4, 8, 16, 32]
    assert model.out_channels == [768] * 4
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 128, 192))
    for out, stride in zip(outs, model.out_strides):
        assert out.shape == (1, 768, 128 // stride, 192 // stride)
    # classification path: one stride-16 map, no pyramid modules
    plain = RaftMLP(arch=arch)
    assert plain.out_strides == [16] and not hasattr(plain, 'pyramid')


def test_custom_arch_and_errors():
    model = RaftMLP(arch=TINY, img_size=64, out_indices=(0, 1, 2, 3))
    assert model.out_channels == [8, 16, 16, 32]
    with pytest.raises(ValueError, match=r"unknown RaftMLP arch 'tiny'.*'small'"):
        RaftMLP(arch='tiny')
    with pytest.raises(ValueError, match='needs exactly the keys'):
        RaftMLP(arch=dict(depths=[1]))
    with pytest.raises(ValueError, match='one entry per level'):
        RaftMLP(arch={**TINY, 'depths': [1, 1]})
    with pytest.raises(ValueError, match='raft size 3 does not divide'):
        RaftMLP(arch={**TINY, 'raft_sizes': [2, 2, 3, 2]}, img_size=64)
    with pytest.raises(ValueError, match='must be multiples of the patch size 2'):
        RaftMLP(arch={**TINY, 'embed_kernels': [[4, 8], [2, 3], [2], [2]]}, img_size=64)
    with pytest.raises(ValueError, match='must equal the patch size'):
        RaftMLP(arch={**TINY, 'embed_kernels': [[8], [2], [2], [2]]}, img_size=64)
    with pytest.raises(ValueError, match='not divisible down the levels'):
        RaftMLP(arch='s', img_size=100)
    with pytest.raises(ValueError, match='out_indices'):
        RaftMLP(arch='s', out_indices=(4, ))
    with pytest.raises(ValueError, match='single-level archs'):
        RaftMLP(arch='s', pyramid_blocks=(0, 1, 2, 3))
    with pytest.raises(ValueError, match='smaller than the first patch'):
        model(torch.randn(1, 3, 3, 64))
    with pytest.raises(ValueError, match='expects \\(B, 3, H, W\\)'):
        model(torch.randn(1, 1, 64, 64))


def test_gradient_reaches_every_parameter():
    # With drop path a branch gets no gradient when every sample of the batch drops it; at rate
    # 0.1 and 16 samples that happens with probability 1e-16 per branch, whatever the draws.
    model = RaftMLP(arch=TINY, img_size=64, out_indices=(0, 1, 2, 3), drop_path_rate=0.1)
    model.train()
    outs = model(torch.randn(16, 3, 48, 80))  # off-grid: exercises the resampling path
    sum(out.square().mean() for out in outs).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.usefixtures('own_random_state')
def test_drop_path_is_stochastic_depth():
    """Every residual branch: identity in eval and at rate 0; in training each sample's branch
    is kept with probability 1 - rate and then scaled by 1 / (1 - rate), else zeroed."""
    rate = 0.25
    model = RaftMLP(arch=TINY, img_size=64, drop_path_rate=rate)
    drops = [m.drop_path for m in model.modules() if hasattr(m, 'drop_path')]
    assert len(drops) == 2 * sum(TINY['depths'])  # token mixing and channel MLP of every block
    x = torch.rand(20000, 3) + 1
    for drop in drops:
        assert drop.eval()(x) is x
    unused = RaftMLP(arch=TINY, img_size=64).train()
    assert all(m.drop_path(x) is x for m in unused.modules() if hasattr(m, 'drop_path'))
    torch.manual_seed(0)
    out = drops[0].train()(x)
    kept = (out != 0).all(dim=1)
    assert ((out == 0).all(dim=1) | kept).all()  # whole samples are dropped
    torch.testing.assert_close(out[kept], x[kept] / (1 - rate))
    # kept fraction: binomial, 20000 samples, within 5 standard deviations of 1 - rate
    assert abs(kept.float().mean().item() - (1 - rate)) < 5 * (rate * (1 - rate) / 20000) ** .5


def test_pyramid_gradient_and_norm_eval():
    arch = dict(depths=[4], channels=[16], patch_sizes=[16], raft_sizes=[None],
                embed_kernels=[[16]], token_mixing='mixer')
    model = RaftMLP(arch=arch, img_size=64, out_indices=(0, 1, 2, 3), pyramid_blocks=(0, 1, 2, 3),
                    norm_eval=True)
    model.train()
    bn = model.pyramid.up4[1]
    assert not bn.training  # norm_eval keeps BatchNorm statistics frozen
    before = bn.running_mean.clone()
    outs = model(torch.randn(2, 3, 64, 64) * 5 + 3)
    torch.testing.assert_close(bn.running_mean, before)
    sum(out.mean() for out in outs).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
    model = RaftMLP(arch=arch, img_size=64, out_indices=(0, ), pyramid_blocks=(0, 1, 2, 3)).train()
    assert model.pyramid.up4[1].training


def test_frozen_stages():
    model = RaftMLP(arch=TINY, img_size=64, out_indices=(0, 1, 2, 3), frozen_stages=2)
    model.train()
    for i, level in enumerate(model.levels):
        frozen = i < 2
        assert all(p.requires_grad != frozen for p in level.parameters()), i
        assert all(m.training != frozen for m in level.modules()), i
    outs = model(torch.randn(1, 3, 64, 64))
    sum(out.mean() for out in outs).backward()
    assert all(p.grad is None for p in model.levels[0].parameters())
    assert all(p.grad is not None for p in model.levels[3].parameters())


def test_forward_keeps_no_state_between_sizes():
    model = RaftMLP(arch=TINY, img_size=64, out_indices=(3, )).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        first = model(x)[0]
        model(torch.randn(1, 3, 40, 72))
        again = model(x)[0]
    torch.testing.assert_close(first, again, atol=0, rtol=0)


@pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')  # shape checks fold at a fixed size
def test_jit_trace_matches_eager():
    model = RaftMLP(arch=TINY, img_size=64, out_indices=(0, 1, 2, 3)).eval()
    x = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        traced = torch.jit.trace(model, x)
        for a, b in zip(traced(x), model(x)):
            torch.testing.assert_close(a, b)


def test_bf16_autocast_close_to_fp32():
    model = RaftMLP(arch=TINY, img_size=64, out_indices=(3, )).eval()
    x = torch.randn(2, 3, 48, 80)
    with torch.no_grad():
        ref = model(x)[0]
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = model(x)[0]
    assert out.dtype == torch.bfloat16
    # bf16 keeps 8 mantissa bits: compare relative to the feature scale
    assert (out.float() - ref).abs().max() < 0.1 * ref.abs().max()


@pytest.mark.parametrize('arch,gmacs', [('small', 2.09), ('medium', 4.27), ('large', 6.54),
                                        ('hierarchy-medium', 3.75), ('org-mixer', 12.63)])
def test_linear_macs_match_paper_table(arch, gmacs):
    from raftmlp_mm.utils import count_linear_macs
    model = RaftMLP(arch=arch)
    macs = count_linear_macs(model) + 1000 * model.num_features  # + the classifier
    assert round(macs / 1e9, 2) == gmacs
