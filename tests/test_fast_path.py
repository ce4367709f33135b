"""The fast CPU path of the MLPs (oneDNN matmuls, row blocks, in-place GELU) equals the plain one.

The plain path (``nn.Linear`` -> GELU -> ``nn.Linear``) is what the golden-tensor tests pin to the
original implementation; here every input size, block split and autograd mode of the fast path
is compared with it, forward and backward.
"""
import pytest
import torch

from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models.raftmlp import Mlp



def outputs_and_grads(model, x, backward):
    """Outputs, then (with ``backward``) the input's and every parameter's gradient."""
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(backward)
    with torch.set_grad_enabled(backward):
        out = model(x)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if backward:
        seeds = torch.Generator().manual_seed(1)
        sum((o * torch.randn(o.shape, generator=seeds, dtype=o.dtype)).sum() for o in outs).backward()
        outs += [x.grad] + [p.grad for p in model.parameters() if p.grad is not None]
    return [o.detach() for o in outs]


def check_fast_path(model, x, monkeypatch, backward):
    """The fast path is as accurate as the plain one, judged against a float64 run.

    Both float32 paths round differently (oneDNN vs BLAS, row blocks), and gradients are sums
    over every row, so each is compared with float64; the fast path's error may not exceed twice
    the plain path's, nor 1e-5 of the tensor's magnitude (1e-4 for gradients).
    """
    monkeypatch.setattr(Mlp, 'use_onednn', True)
    fast = outputs_and_grads(model, x, backward)
    monkeypatch.setattr(Mlp, 'use_onednn', False)
    plain = outputs_and_grads(model, x, backward)
    exact = outputs_and_grads(model.double(), x.double(), backward)
    model.float()
    num_outputs = len(exact) - (1 + len(list(model.parameters())) if backward else 0)
    assert len(fast) == len(plain) == len(exact) >= num_outputs > 0
    for i, (f, p, e) in enumerate(zip(fast, plain, exact)):
        scale = max(1., e.abs().max().item())
        fast_error = (f.double() - e).abs().max().item()
        plain_error = (p.double() - e).abs().max().item()
        tol = (1e-5 if i < num_outputs else 1e-4) * scale
        assert fast_error <= max(2 * plain_error, tol), (i, fast_error, plain_error, scale)
    return fast


@pytest.mark.parametrize('rows', [1, 7, 300, 4096])
@pytest.mark.parametrize('block_bytes', [1 << 10, 24 << 20])  # many blocks / one block
@pytest.mark.parametrize('backward', [False, True])
def test_mlp_fast_path_equals_plain(rows, block_bytes, backward, monkeypatch):
    mlp = Mlp(48, 96)
    monkeypatch.setattr(Mlp, 'block_bytes', block_bytes)
    fast = check_fast_path(mlp, torch.randn(2, rows, 48), monkeypatch, backward)
    assert len(fast) == (6 if backward else 1)


def test_mlp_fast_path_leaves_no_autograd_gap():
    """Frozen weights and an input that needs no grad: the in-place GELU path, no graph."""
    mlp = Mlp(16, 32).requires_grad_(False)
    x = torch.randn(5, 16)
    assert not mlp(x).requires_grad
    x.requires_grad_(True)  # but an input that needs grad keeps the graph
    mlp(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize('arch,img_size,size', [
    ('small', 64, (64, 64)),      # at the pretraining grid
    ('small', 64, (96, 80)),      # resampled in every block
    ('small', 64, (70, 33)),      # stretched to a multiple of the patch first
    ('org-mixer', 64, (48, 80)),  # MLP-Mixer token mixing, resampled
])
@pytest.mark.parametrize('backward', [False, True])
def test_backbone_fast_path_equals_plain(arch, img_size, size, backward, monkeypatch):
    levels = len(RaftMLP.arch_zoo[arch]['depths'])
    model = RaftMLP(arch, img_size=img_size, out_indices=tuple(range(levels)),
                    drop_path_rate=0.)
    check_fast_path(model, torch.randn(2, 3, *size), monkeypatch, backward)


def test_tokens_stay_channels_last_contiguous():
    """Every block receives contiguous (B, h, w, C) tokens: no hidden layout copies."""
    model = RaftMLP('small', img_size=64).eval()
    layouts = []
    for level in model.levels:
        for block in level.blocks:
            block.register_forward_pre_hook(
                lambda module, args: layouts.append(args[0].is_contiguous()))
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
        model(torch.randn(1, 3, 96, 64))
    assert len(layouts) == 2 * sum(RaftMLP.arch_zoo['small']['depths'])
    assert all(layouts)


@pytest.mark.parametrize('arch,kwargs', [('small', {}),
                                         ('org-mixer', dict(pyramid_blocks=(3, 5, 7, 11)))])
def test_outputs_are_nchw_contiguous_for_mmcv_ops(arch, kwargs):
    """Levels run channels-last inside, but what leaves the backbone is NCHW-contiguous:
    mmcv's CPU RoIAlign reads raw NCHW memory and gathers wrong features from channels-last maps."""
    from mmcv.ops import roi_align
    model = RaftMLP(arch, img_size=64, out_indices=(0, 1, 2, 3), **kwargs).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 96, 64))
    rois = torch.tensor([[0., 2., 2., 9., 7.]])
    for out in outs:
        assert out.is_contiguous()
        nchw = torch.empty(out.shape).copy_(out)  # NCHW memory whatever ``out`` is
        assert torch.equal(roi_align(out, rois, (3, 3), 1.0, 2, 'avg', True),
                           roi_align(nchw, rois, (3, 3), 1.0, 2, 'avg', True))
