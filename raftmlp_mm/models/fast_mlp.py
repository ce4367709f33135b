"""The MLP of every RaftMLP sub-block, and its fast CPU path.

``Mlp`` is what the paper's token and channel MLPs are: ``Linear -> exact GELU -> Linear`` on the
last axis (``fc1``, ``act``, ``fc2``, ``drop``; the state_dict keys of the original). How it is
computed is chosen per call, and every choice computes the same function:

- **plain**: ``nn.Linear``, GELU, ``nn.Linear``, as written. Always taken under tracing,
  TorchScript, ONNX export, ``torch.export``/``torch.compile``, autocast, on GPU, in dtypes other
  than float32, with dropout active in training, and when a linear layer has hooks (FLOP
  counters rely on seeing them called).
- **fast** (CPU, float32, eager): fewer memory passes over the hidden activations, the largest
  tensors of the network. Rows are processed in blocks so that no hidden tensor exceeds
  ``Mlp.block_bytes`` (glibc maps larger blocks fresh from the OS, and fresh pages are faulted
  in on every call); without autograd GELU runs in place. Each linear layer runs with one of two
  kernels: ``F.linear`` (the BLAS gemm, MKL in the PyPI wheels) or ``linear_onednn`` (the same
  product as a 1x1 channels-last convolution: oneDNN's JIT kernels). Which one is faster depends
  on the CPU: oneDNN won by 5-20% on an AVX-512 machine and lost clearly on an AVX2-only one
  (docs/benchmarks.md).

The switch is ``Mlp.fast_path`` or, while that is ``None``, the environment variable
``RAFTMLP_FAST_MLP``:

- ``'auto'`` (default): the fast path, and for every linear layer the kernel that measured
  faster on this machine, on this shape (in and out features, rows rounded to a power of two,
  thread count) and direction (forward only, or forward and backward when autograd records).
  Each such key is measured once per process, the first time it is met (``measure_kernels``),
  and cached (``kernel_choices()``). oneDNN must win by ``MARGIN`` to be chosen. With
  ``torch.use_deterministic_algorithms(True)`` (MMEngine's ``deterministic=True``) nothing is
  measured and ``F.linear`` is used, so that two runs compute the same bits.
- ``'1'``: the fast path with the oneDNN kernel for every linear layer.
- ``'0'``: the plain path everywhere.

tests/test_fast_path.py holds all of them to the plain path's accuracy and tests the choice.
"""
import math
import os
import time
from typing import Callable, Dict, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

ENV_VAR = 'RAFTMLP_FAST_MLP'
MODES = ('auto', '1', '0')
MARGIN = 0.05  # oneDNN is chosen only when it takes less than (1 - MARGIN) of F.linear's time
MEASURE_REPS = 3  # timed runs of each kernel, interleaved, after one warm-up run each ...
MEASURE_SECONDS = 0.02  # ... or, for quick shapes, as many more as fit in this (at most 20)


def linear_onednn(x: torch.Tensor, weight: torch.Tensor,
                  bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``F.linear`` on rows (N, in) computed as a 1x1 channels-last convolution (oneDNN on CPU).

    The layouts are chosen so that no copy is made either way.
    """
    rows, dims = x.shape
    x = x.view(1, rows, 1, dims).permute(0, 3, 1, 2)  # (1, in, N, 1), channels-last memory
    y = F.conv2d(x, weight.view(*weight.shape, 1, 1), bias)  # (1, out, N, 1), channels-last
    return y.permute(0, 2, 3, 1).reshape(rows, -1)  # (N, out): a view of channels-last y


KERNELS: Dict[str, Callable] = {'plain': F.linear, 'onednn': linear_onednn}


def fast_path_mode() -> str:
    """'auto', '1' or '0': ``Mlp.fast_path`` if set, else ``$RAFTMLP_FAST_MLP``, else 'auto'."""
    setting = Mlp.fast_path
    if setting is None:
        setting = os.environ.get(ENV_VAR, 'auto')
    mode = {True: '1', False: '0'}.get(setting, str(setting).strip().lower())
    if mode not in MODES:
        source = 'Mlp.fast_path' if Mlp.fast_path is not None else ENV_VAR
        raise ValueError(f'{source}={setting!r}: use auto (measure and take the faster kernel), '
                         '1 (oneDNN kernels) or 0 (plain nn.Linear)')
    return mode


# ---------------------------------------------------------------------------------------------
# auto: measured kernel choice, cached per process


class Key(NamedTuple):
    """What a kernel choice is made for."""
    in_features: int
    out_features: int
    rows_bucket: int  # rows.bit_length(): rows in [2 ** (bucket - 1), 2 ** bucket)
    backward: Optional[Tuple[bool, bool]]  # None: forward only; else (input, weight) need grad
    threads: int


class Choice(NamedTuple):
    kernel: str  # a key of KERNELS
    seconds: Dict[str, float]  # fastest measured time of each kernel (empty if not measured)
    rows: int  # the row count it was measured on


_choices: Dict[Key, Choice] = {}


def kernel_choices() -> Dict[Key, Choice]:
    """The auto mode's decisions so far in this process (a copy)."""
    return dict(_choices)


def reset_kernel_choices():
    """Forget every decision: the next call of each shape measures again."""
    _choices.clear()


def time_once(kernel: str, run: Callable[[], None]) -> float:
    """Seconds one call of ``run`` (a unit of work of ``kernel``) takes."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _unit_of_work(kernel: Callable, x: torch.Tensor, weight: torch.Tensor,
                  bias: Optional[torch.Tensor], backward: Optional[Tuple[bool, bool]]):
    """A call that computes what the layer will: forward only, or forward and backward.

    It works on detached aliases of the layer's own tensors (no copy, no random draws, nothing
    recorded in the caller's graph, no gradient written anywhere).
    """
    if backward is None:
        def run():
            with torch.no_grad():
                kernel(x, weight, bias)
        return run
    x_grad, weight_grad = backward
    x = x.detach().requires_grad_(x_grad)
    weight = weight.detach().requires_grad_(weight_grad)
    bias = None if bias is None else bias.detach().requires_grad_(weight_grad)
    inputs = [t for t in (x, weight, bias) if t is not None and t.requires_grad]
    grad_out = torch.ones(x.shape[0], weight.shape[0], dtype=x.dtype, device=x.device)

    def run():
        with torch.enable_grad():
            torch.autograd.grad(kernel(x, weight, bias), inputs, grad_out)
    return run


def measure_kernels(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                    backward: Optional[Tuple[bool, bool]]) -> Choice:
    """Time both kernels on this very input and direction; oneDNN only if clearly faster.

    One warm-up run each (oneDNN builds its kernel on first use), then at least
    ``MEASURE_REPS`` runs of each, interleaved so that drift of the machine's speed hits both
    alike; each kernel's fastest run counts (other load only ever adds time).
    """
    runs = {name: _unit_of_work(kernel, x, weight, bias, backward)
            for name, kernel in KERNELS.items()}
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    reps = MEASURE_REPS
    while len(times['plain']) < reps:
        for name, run in runs.items():
            times[name].append(time_once(name, run))
        if len(times['plain']) == 1:  # quick shapes: more runs, as many as fit in the budget
            slowest = max(t[0] for t in times.values())
            reps = min(20, max(MEASURE_REPS, int(MEASURE_SECONDS / max(slowest, 1e-9))))
    best = {name: min(t) for name, t in times.items()}
    kernel = 'onednn' if best['onednn'] < (1 - MARGIN) * best['plain'] else 'plain'
    return Choice(kernel, best, x.shape[0])


def choose_kernel(x: torch.Tensor, layer: nn.Linear, backward: Optional[Tuple[bool, bool]]) -> str:
    """The auto mode's kernel for ``layer`` on rows ``x``: cached, measured the first time."""
    if torch.are_deterministic_algorithms_enabled():
        return 'plain'  # a timing-dependent choice would make two runs differ in the last bits
    key = Key(layer.in_features, layer.out_features, x.shape[0].bit_length(), backward,
              torch.get_num_threads())
    choice = _choices.get(key)
    if choice is None:
        choice = _choices[key] = measure_kernels(x, layer.weight, layer.bias, backward)
    return choice.kernel


# ---------------------------------------------------------------------------------------------
# the module


def _tracing() -> bool:
    """True while TorchDynamo (torch.compile, torch.export), TorchScript or ONNX export records."""
    if torch._dynamo.is_compiling():
        return True
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


def _has_hooks(module: nn.Module) -> bool:
    """Whether calling ``module`` would run hooks that bypassing it would skip."""
    from torch.nn.modules import module as module_mod
    return bool(module._forward_hooks or module._forward_pre_hooks or
                module_mod._global_forward_hooks or module_mod._global_forward_pre_hooks)


class Mlp(nn.Module):
    """Two linear layers on the last axis with an exact GELU between them, dropout after each.

    See the module docstring for the fast CPU path and its switch, ``Mlp.fast_path``.
    """

    fast_path: Union[str, bool, None] = None  # 'auto', '1'/True, '0'/False; None: $RAFTMLP_FAST_MLP
    block_bytes = 24 << 20  # largest hidden activation tensor of the fast path

    def __init__(self, dims: int, hidden_dims: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = fast_path_mode() if self._fast_path_applies(x) else '0'
        if mode == '0':
            return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))
        flat = x.reshape(-1, x.shape[-1])  # (N, dims)
        rows = flat.shape[0]
        blocks = math.ceil(rows * self.fc1.out_features * x.element_size() / self.block_bytes)
        if blocks <= 1:
            out = self._rows(flat, mode)
        else:  # equal blocks, each under block_bytes of hidden activations
            parts = flat.split(math.ceil(rows / blocks))
            out = torch.cat([self._rows(part, mode) for part in parts])
        return out.view(*x.shape[:-1], self.fc2.out_features)

    def _rows(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        hidden = self._linear(self.fc1, x, mode)
        if torch.is_grad_enabled() and (x.requires_grad or self.fc1.weight.requires_grad):
            hidden = F.gelu(hidden)
        else:
            hidden = torch.ops.aten.gelu_(hidden)  # nothing keeps the pre-activation: reuse it
        return self._linear(self.fc2, hidden, mode)

    @staticmethod
    def _linear(layer: nn.Linear, x: torch.Tensor, mode: str) -> torch.Tensor:
        if mode == '1':
            kernel = 'onednn'
        else:
            records = torch.is_grad_enabled() and (x.requires_grad or layer.weight.requires_grad)
            backward = (x.requires_grad, layer.weight.requires_grad) if records else None
            kernel = choose_kernel(x, layer, backward)
        return KERNELS[kernel](x, layer.weight, layer.bias)

    def _fast_path_applies(self, x: torch.Tensor) -> bool:
        if _tracing():  # export and compilers get the plain graph
            return False
        return (x.device.type == 'cpu' and x.dtype == torch.float32
                and self.fc1.weight.dtype == torch.float32 and torch.backends.mkldnn.enabled
                and torch.backends.mkldnn.is_available() and not torch.is_autocast_cpu_enabled()
                and not (self.training and self.drop.p > 0)
                and not _has_hooks(self.fc1) and not _has_hooks(self.fc2))  # e.g. FLOP counters
