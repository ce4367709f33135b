"""The fast CPU path of the MLPs (raftmlp_mm/models/fast_mlp.py) equals the plain one, and its
kernel choice is made by measurement.

The plain path (``nn.Linear`` -> GELU -> ``nn.Linear``) is what the golden-tensor tests pin to the
original implementation; here every input size, block split, kernel and autograd mode of the fast
path is compared with it, forward and backward. The auto mode's decision is tested with a fake
timer: no test asserts anything about wall-clock time.
"""
import pytest
import torch

from raftmlp_mm.models import RaftMLP, fast_mlp
from raftmlp_mm.models.fast_mlp import Mlp

# the fast path's kernels: the switch, and the fake per-kernel times (None: really measured)
FAST = {
    'onednn': ('1', None),
    'auto-picks-plain': ('auto', {'plain': 1., 'onednn': 2.}),
    'auto-measured': ('auto', None),
}


@pytest.fixture(autouse=True)
def fresh_switch(monkeypatch):
    """Every test starts with the switch unset and no cached kernel decisions."""
    monkeypatch.delenv(fast_mlp.ENV_VAR, raising=False)
    monkeypatch.setattr(Mlp, 'fast_path', None)
    fast_mlp.reset_kernel_choices()
    yield
    fast_mlp.reset_kernel_choices()


def fake_timer(monkeypatch, seconds):
    """Replace the stopwatch of the auto mode: ``seconds[kernel]`` per timed run (which still
    runs). Returns the list of kernels timed, in order."""
    timed = []

    def time_once(kernel, run):
        run()
        timed.append(kernel)
        return seconds[kernel]
    monkeypatch.setattr(fast_mlp, 'time_once', time_once)
    return timed


def spy_kernels(monkeypatch):
    """Record every call of the fast path's kernels (the plain path calls neither)."""
    called = []
    for name, kernel in list(fast_mlp.KERNELS.items()):
        def spy(*args, _name=name, _kernel=kernel):
            called.append(_name)
            return _kernel(*args)
        monkeypatch.setitem(fast_mlp.KERNELS, name, spy)
    return called


def outputs_and_grads(model, x, backward):
    """Outputs, then (with ``backward``) the input's and every parameter's gradient."""
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(backward)
    with torch.set_grad_enabled(backward):
        out = model(x)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if backward:
        seeds = torch.Generator().manual_seed(1)
        seed_grads = [torch.randn(o.shape, generator=seeds, dtype=o.dtype) for o in outs]
        sum((o * g).sum() for o, g in zip(outs, seed_grads)).backward()
        outs += [x.grad] + [p.grad for p in model.parameters() if p.grad is not None]
    return [o.detach() for o in outs]


def check_fast_path(model, x, monkeypatch, backward, fast='onednn'):
    """The fast path is as accurate as the plain one, judged against a float64 run.

    Both float32 paths round differently (oneDNN vs BLAS, row blocks), and gradients are sums
    over every row, so each is compared with float64; the fast path's error may not exceed twice
    the plain path's, nor 1e-5 of the tensor's magnitude (2e-4 for gradients: weight gradients
    are float32 sums over thousands of rows, and the two paths order them differently; 1.03e-4
    was seen on an AVX2 machine against 5e-5 for the plain path).
    """
    mode, seconds = FAST[fast]
    if seconds is not None:
        fake_timer(monkeypatch, seconds)
    called = spy_kernels(monkeypatch)
    monkeypatch.setattr(Mlp, 'fast_path', mode)
    fast_result = outputs_and_grads(model, x, backward)
    assert called, 'the fast path did not run'
    if fast == 'onednn':
        assert set(called) == {'onednn'}
    elif fast == 'auto-picks-plain':
        assert {c.kernel for c in fast_mlp.kernel_choices().values()} == {'plain'}
    monkeypatch.setattr(Mlp, 'fast_path', '0')
    called.clear()
    plain = outputs_and_grads(model, x, backward)
    assert not called  # '0': nn.Linear as written
    exact = outputs_and_grads(model.double(), x.double(), backward)
    model.float()
    num_outputs = len(exact) - (1 + len(list(model.parameters())) if backward else 0)
    assert len(fast_result) == len(plain) == len(exact) >= num_outputs > 0
    for i, (f, p, e) in enumerate(zip(fast_result, plain, exact)):
        scale = max(1., e.abs().max().item())
        fast_error = (f.double() - e).abs().max().item()
        plain_error = (p.double() - e).abs().max().item()
        tol = (1e-5 if i < num_outputs else 2e-4) * scale
        assert fast_error <= max(2 * plain_error, tol), (i, fast_error, plain_error, scale)
    return fast_result


@pytest.mark.parametrize('fast', list(FAST))
@pytest.mark.parametrize('rows', [1, 7, 300, 4096])
@pytest.mark.parametrize('block_bytes', [1 << 10, 24 << 20])  # many blocks / one block
@pytest.mark.parametrize('backward', [False, True])
def test_mlp_fast_path_equals_plain(rows, block_bytes, backward, fast, monkeypatch):
    mlp = Mlp(48, 96)
    monkeypatch.setattr(Mlp, 'block_bytes', block_bytes)
    result = check_fast_path(mlp, torch.randn(2, rows, 48), monkeypatch, backward, fast)
    assert len(result) == (6 if backward else 1)


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
@pytest.mark.parametrize('fast', ['onednn', 'auto-picks-plain'])
def test_backbone_fast_path_equals_plain(arch, img_size, size, backward, fast, monkeypatch):
    levels = len(RaftMLP.arch_zoo[arch]['depths'])
    model = RaftMLP(arch, img_size=img_size, out_indices=tuple(range(levels)),
                    drop_path_rate=0.)
    check_fast_path(model, torch.randn(2, 3, *size), monkeypatch, backward, fast)


# ---------------------------------------------------------------------------------------------
# the auto mode's decision


@pytest.mark.parametrize('seconds,expected', [
    ({'plain': 1., 'onednn': 2.}, 'plain'),    # oneDNN slower: F.linear
    ({'plain': 1., 'onednn': 0.5}, 'onednn'),  # oneDNN clearly faster: oneDNN
    ({'plain': 1., 'onednn': 1 - fast_mlp.MARGIN / 2}, 'plain'),  # within the margin: F.linear
])
@pytest.mark.parametrize('backward', [False, True])
def test_auto_runs_the_kernel_that_measured_faster(seconds, expected, backward, monkeypatch):
    timed = fake_timer(monkeypatch, seconds)
    called = spy_kernels(monkeypatch)
    mlp = Mlp(8, 32)
    x = torch.randn(3, 5, 8, requires_grad=backward)
    with torch.set_grad_enabled(backward):
        mlp(x)  # the first call measures fc1's and fc2's shapes
    assert sorted(set(timed)) == ['onednn', 'plain']
    choices = fast_mlp.kernel_choices()
    assert {(key.in_features, key.out_features) for key in choices} == {(8, 32), (32, 8)}
    assert all(c.kernel == expected and c.seconds == seconds for c in choices.values())
    assert all((key.backward is not None) == backward for key in choices)
    called.clear()
    with torch.set_grad_enabled(backward):
        out = mlp(x)  # decided: only the chosen kernel runs, for both layers
    assert called == [expected, expected]
    if backward:
        out.sum().backward()
        assert x.grad is not None and mlp.fc1.weight.grad is not None


def test_auto_measures_each_shape_and_direction_once(monkeypatch):
    timed = fake_timer(monkeypatch, {'plain': 1., 'onednn': 2.})
    per_key = 2 * fast_mlp.MEASURE_REPS  # timed runs of both kernels (after a warm-up each)
    mlp = Mlp(8, 32)
    with torch.no_grad():  # forward only
        mlp(torch.randn(20, 8))
        assert len(timed) == 2 * per_key  # fc1 and fc2
        mlp(torch.randn(20, 8))
        mlp(torch.randn(17, 8))  # 17 and 20 rows share the bucket [16, 32)
        assert len(timed) == 2 * per_key  # answered from the cache
        mlp(torch.randn(40, 8))  # another bucket
        assert len(timed) == 4 * per_key
    mlp(torch.randn(20, 8))  # autograd records: forward and backward, another direction
    assert len(timed) == 6 * per_key
    mlp(torch.randn(20, 8, requires_grad=True))  # fc1 now also computes the input's gradient
    assert len(timed) == 7 * per_key  # (fc2's input needed a gradient already)
    assert len(fast_mlp.kernel_choices()) == 7
    with torch.no_grad():
        Mlp(8, 32)(torch.randn(20, 8))  # the decision is per shape, not per module
    assert len(timed) == 7 * per_key


def test_measurement_has_no_side_effects(monkeypatch):
    """Measuring draws no random numbers, writes no gradients and records nothing."""
    mlp = Mlp(8, 32)
    x = torch.randn(6, 8, requires_grad=True)
    rng = torch.get_rng_state()
    out = mlp(x)  # really measured: forward and backward of both kernels
    assert fast_mlp.kernel_choices()
    assert torch.equal(torch.get_rng_state(), rng)
    assert x.grad is None and all(p.grad is None for p in mlp.parameters())
    out.sum().backward()
    expected = torch.autograd.grad(mlp.fc2(mlp.act(mlp.fc1(x))).sum(), x)[0]
    torch.testing.assert_close(x.grad, expected)


@pytest.mark.parametrize('setting,expected', [('0', []), ('1', ['onednn', 'onednn']),
                                              ('auto', ['plain', 'plain'])])
@pytest.mark.parametrize('where', ['env', 'class'])
def test_switch(setting, expected, where, monkeypatch):
    """0: plain nn.Linear, nothing measured; 1: oneDNN, nothing measured; auto: measured."""
    timed = fake_timer(monkeypatch, {'plain': 1., 'onednn': 2.})
    called = spy_kernels(monkeypatch)
    if where == 'env':
        monkeypatch.setenv(fast_mlp.ENV_VAR, setting)
    else:
        monkeypatch.setenv(fast_mlp.ENV_VAR, 'bogus')  # the class setting wins over the env
        monkeypatch.setattr(Mlp, 'fast_path', setting)
    mlp = Mlp(8, 32)
    mlp(torch.randn(4, 8))
    assert bool(timed) == (setting == 'auto')
    called.clear()  # (the measurement runs both kernels)
    mlp(torch.randn(4, 8))
    assert called == expected


def test_switch_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv(fast_mlp.ENV_VAR, 'fast')
    with pytest.raises(ValueError, match='RAFTMLP_FAST_MLP=.fast.*auto.*1.*0'):
        Mlp(8, 32)(torch.randn(4, 8))
    monkeypatch.setattr(Mlp, 'fast_path', True)  # booleans are 1 and 0
    assert fast_mlp.fast_path_mode() == '1'


def test_auto_is_reproducible_under_deterministic_algorithms(monkeypatch):
    """A choice by timing could differ between two runs; deterministic mode takes F.linear."""
    timed = fake_timer(monkeypatch, {'plain': 2., 'onednn': 1.})
    called = spy_kernels(monkeypatch)
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        Mlp(8, 32)(torch.randn(4, 8))
    finally:
        torch.use_deterministic_algorithms(before)
    assert not timed and called == ['plain', 'plain']


def test_tracing_takes_the_plain_path(monkeypatch):
    monkeypatch.setattr(Mlp, 'fast_path', '1')
    called = spy_kernels(monkeypatch)
    mlp = Mlp(8, 32).eval()
    traced = torch.jit.trace(mlp, torch.randn(4, 8), check_trace=False)  # (the check is eager)
    assert not called
    graph = str(traced.inlined_graph)
    assert graph.count('aten::linear') == 2 and 'conv' not in graph


# ---------------------------------------------------------------------------------------------
# the layout of the tokens and of the outputs


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
