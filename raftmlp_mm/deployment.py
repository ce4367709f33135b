"""Export models for deployment (ONNX, TorchScript, torch.export) and run them with onnxruntime.

Every export is specialised to one fixed input shape (N, C, H, W): RaftMLP chooses its
resampling steps from the input size in Python, so tracing bakes them into the graph. An input
of another size needs another export.

    from raftmlp_mm.deployment import export_onnx, OnnxModel, max_abs_diff
    names = export_onnx(model, 'raftmlp_s.onnx', (1, 3, 224, 224))
    outputs = OnnxModel('raftmlp_s.onnx')(images)          # list of numpy arrays, one per name

The timing helpers (:func:`time_onnxruntime`, :func:`onnxruntime_latency`) return the median
latency in seconds over ``repeats`` runs after ``warmup`` runs, as torch timings are reported.

onnx and onnxruntime are optional dependencies (``pip install -r requirements/tests.txt``);
this module imports them only when a function needs them.
"""
import copy
import importlib
import math
import os
import os.path as osp
import statistics
import tempfile
import time
import warnings
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .models.raftmlp import MultiScalePatchEmbed

ONNX_OPSET = 17
# onnxruntime against torch on the same fp32 input, verified by tests/test_export.py
ONNX_ATOL = 1e-4
# the versions requirements/tests.txt pins
PINNED = {'onnx': 'onnx==1.23.2', 'onnxruntime': 'onnxruntime==1.32.0'}

Shape = Sequence[int]
Outputs = Union[torch.Tensor, np.ndarray, Sequence[Union[torch.Tensor, np.ndarray]]]

__all__ = ['ONNX_OPSET', 'ONNX_ATOL', 'PINNED', 'require', 'ClassifierLogits', 'deployable',
           'output_list', 'example_input', 'export_onnx', 'export_torchscript', 'export_program',
           'run_program', 'OnnxModel', 'time_onnxruntime', 'onnxruntime_latency', 'max_abs_diff']


def require(package: str):
    """Import ``onnx`` or ``onnxruntime``, or fail with the command that installs it."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        pin = PINNED.get(package, package)
        raise ImportError(f'{package} is not installed, and exporting or running ONNX models needs '
                          f'it: pip install -r requirements/tests.txt (or pip install {pin})'
                          ) from exc


class ClassifierLogits(nn.Module):
    """An mmpretrain ``ImageClassifier`` as a plain ``images -> logits`` module.

    ``mode='tensor'`` runs backbone, neck and head and returns the pre-softmax scores. The input
    is the normalised NCHW float image, i.e. what the classifier's ``data_preprocessor`` gives.
    """

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.classifier(inputs, mode='tensor')


def deployable(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every multi-scale patch embedding as one Conv2d.

    RaftMLP sums its per-scale embedding kernels in ``forward``. torch 2.1's ONNX exporter cannot
    give that computed kernel a static shape and stops with "Unsupported: ONNX export of
    convolution for kernel of unknown shape"; folding the sum once beforehand is exact (the same
    kernel and the same convolution) and also saves the sum on every call. ``model`` is untouched.
    """
    model = copy.deepcopy(model)
    model.eval()  # not chained: some OpenMMLab backbones' train() returns None
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, MultiScalePatchEmbed):
                setattr(parent, name, _folded_conv(child))
    return model


def _folded_conv(embed: MultiScalePatchEmbed) -> nn.Conv2d:
    with torch.no_grad():
        kernel = embed.fused_kernel()
    out_channels, in_channels, size = kernel.shape[0], kernel.shape[1], kernel.shape[-1]
    conv = nn.Conv2d(in_channels, out_channels, size, stride=embed.stride,
                     padding=(size - embed.stride) // 2)
    conv = conv.to(device=kernel.device, dtype=kernel.dtype)
    with torch.no_grad():
        conv.weight.copy_(kernel)
        conv.bias.copy_(embed.bias)
    return conv.eval()


def output_list(outputs: Any) -> List[torch.Tensor]:
    """A model's outputs as a flat list of tensors (backbones return tuples of maps)."""
    if isinstance(outputs, (torch.Tensor, np.ndarray)):
        return [outputs]
    if isinstance(outputs, (list, tuple)):
        return [t for item in outputs for t in output_list(item)]
    if isinstance(outputs, dict):
        return [t for key in sorted(outputs) for t in output_list(outputs[key])]
    raise TypeError(f'cannot export an output of type {type(outputs).__name__}: the model must '
                    'return tensors, or tuples/lists/dicts of tensors')


def example_input(input_shape: Shape, seed: int = 0, device='cpu') -> torch.Tensor:
    """A reproducible standard-normal NCHW float32 input (what the exports trace with)."""
    if len(input_shape) != 4:
        raise ValueError(f'input_shape must be (N, C, H, W), got {tuple(input_shape)}')
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(input_shape), generator=generator).to(device)


def _trace_quietly(fn, *args, **kwargs):
    # The shape checks in forward become constants of the fixed-shape graph: that is intended,
    # so the tracer's warnings about it are noise here.
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        return fn(*args, **kwargs)


def _check_writable(path: str):
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'the folder of {path} does not exist: create {folder} first')


def export_onnx(model: nn.Module, path: str, input_shape: Shape, *, opset: int = ONNX_OPSET,
                input_name: str = 'input', output_names: Optional[Sequence[str]] = None,
                check: bool = True) -> List[str]:
    """Export ``model`` to ONNX at the fixed ``input_shape`` (N, C, H, W).

    The graph has one float32 input ``input_name`` and one output per tensor the model returns,
    named ``output_names`` (default ``output`` for one tensor, ``output0``, ``output1``, ...
    otherwise). ``check`` runs ``onnx.checker`` on the file. Returns the output names.
    """
    _check_writable(path)
    onnx = require('onnx') if check else None
    model = deployable(model)
    x = example_input(input_shape, device=_device_of(model))
    with torch.no_grad():
        count = len(output_list(model(x)))
    if output_names is None:
        output_names = ['output'] if count == 1 else [f'output{i}' for i in range(count)]
    output_names = list(output_names)
    if len(output_names) != count:
        raise ValueError(f'the model returns {count} tensors but {len(output_names)} output '
                         f'names were given: {output_names}')
    with torch.no_grad():
        _trace_quietly(torch.onnx.export, model, (x, ), path, opset_version=opset,
                       input_names=[input_name], output_names=output_names,
                       do_constant_folding=True)
    if onnx is not None:
        onnx.checker.check_model(path)
    return output_names


def export_torchscript(model: nn.Module, path: Optional[str], input_shape: Shape
                       ) -> torch.jit.ScriptModule:
    """Trace ``model`` at ``input_shape`` with ``torch.jit.trace``; save it to ``path`` if given.

    Load it back with ``torch.jit.load(path)``; it returns what the model returns.
    """
    if path is not None:
        _check_writable(path)
    model = deployable(model)
    x = example_input(input_shape, device=_device_of(model))
    with torch.no_grad():
        traced = _trace_quietly(torch.jit.trace, model, (x, ), check_trace=False)
    if path is not None:
        torch.jit.save(traced, path)
    return traced


def export_program(model: nn.Module, input_shape: Shape, path: Optional[str] = None):
    """``torch.export.export`` of ``model`` at ``input_shape``; saved with ``torch.export.save``.

    Run the result with :func:`run_program`; load a saved one with ``torch.export.load(path)``.
    Works on torch 2.1, but slowly on a CPU (RaftMLP-S takes several seconds).
    """
    if not hasattr(torch, 'export'):
        raise RuntimeError(f'torch {torch.__version__} has no torch.export: it needs torch >= 2.1')
    if path is not None:
        _check_writable(path)
    model = deployable(model)
    x = example_input(input_shape, device=_device_of(model))
    with torch.no_grad():
        program = torch.export.export(model, (x, ))
    if path is not None:
        torch.export.save(program, path)
    return program


def run_program(program, inputs: torch.Tensor):
    """Run an ``ExportedProgram`` on ``inputs`` through ``.module()`` (newer torch has no
    ``ExportedProgram.__call__``)."""
    with torch.no_grad():
        return program.module()(inputs)


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


class OnnxModel:
    """An onnxruntime CPU session of an exported model, called like the torch model.

    ``OnnxModel(path)(x)`` takes one NCHW float32 array or tensor and returns the outputs as a
    list of numpy arrays in the graph's output order. ``intra_op_num_threads`` sets how many
    threads one operator may use (None: onnxruntime's default, one per core).
    """

    def __init__(self, path: str, intra_op_num_threads: Optional[int] = None):
        if not osp.isfile(path):
            raise FileNotFoundError(f'ONNX file {path} does not exist: export it first')
        ort = require('onnxruntime')
        options = ort.SessionOptions()
        if intra_op_num_threads is not None:
            options.intra_op_num_threads = intra_op_num_threads
        options.inter_op_num_threads = 1
        self.path = path
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f'{path} has {len(inputs)} inputs; OnnxModel runs single-input '
                             'graphs such as export_onnx writes')
        self.input_name = inputs[0].name
        self.input_shape = tuple(inputs[0].shape)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs: Union[np.ndarray, torch.Tensor]) -> List[np.ndarray]:
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        if tuple(inputs.shape) != self.input_shape:
            raise ValueError(f'{self.path} was exported for input shape {self.input_shape}, got '
                             f'{tuple(inputs.shape)}: export again at this shape')
        return self.session.run(self.output_names, {self.input_name: inputs})


def time_onnxruntime(model: Union[str, OnnxModel], inputs: Union[np.ndarray, torch.Tensor, None]
                     = None, *, warmup: int = 3, repeats: int = 10,
                     intra_op_num_threads: Optional[int] = None) -> float:
    """Median latency in seconds of one onnxruntime run, over ``repeats`` runs after ``warmup``.

    ``model`` is an .onnx path (a session is opened with ``intra_op_num_threads``) or an
    :class:`OnnxModel` (its own thread setting applies). ``inputs`` defaults to a random input of
    the graph's fixed shape.
    """
    if repeats < 1:
        raise ValueError(f'repeats must be at least 1, got {repeats}')
    runner = model if isinstance(model, OnnxModel) else OnnxModel(model, intra_op_num_threads)
    if inputs is None:
        inputs = example_input(runner.input_shape)
    if isinstance(inputs, torch.Tensor):
        inputs = inputs.detach().cpu().numpy()
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    for _ in range(warmup):
        runner(inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner(inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def onnxruntime_latency(model: nn.Module, input_shape: Shape, *, warmup: int = 3,
                        repeats: int = 10, intra_op_num_threads: Optional[int] = None,
                        opset: int = ONNX_OPSET) -> float:
    """Export ``model`` to a temporary ONNX file and return :func:`time_onnxruntime` of it."""
    with tempfile.TemporaryDirectory(prefix='raftmlp_onnx_') as folder:
        path = os.path.join(folder, 'model.onnx')
        export_onnx(model, path, input_shape, opset=opset, check=False)
        return time_onnxruntime(path, example_input(input_shape), warmup=warmup,
                                repeats=repeats, intra_op_num_threads=intra_op_num_threads)


def max_abs_diff(outputs: Outputs, reference: Outputs) -> float:
    """Largest absolute difference between two sets of outputs (tensors or numpy arrays);
    NaN when a NaN appears in either."""
    outputs, reference = output_list(outputs), output_list(reference)
    if len(outputs) != len(reference):
        raise ValueError(f'{len(outputs)} outputs against {len(reference)} reference outputs')
    worst = 0.
    for out, ref in zip(outputs, reference):
        out = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
        ref = ref.detach().cpu().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
        if out.shape != ref.shape:
            raise ValueError(f'output shape {out.shape} differs from the reference {ref.shape}')
        diff = float(np.abs(out.astype(np.float64) - ref.astype(np.float64)).max())
        if math.isnan(diff):
            return diff  # max() would drop a NaN
        worst = max(worst, diff)
    return worst
