"""Bicubic resampling as two small matrix products, exact to torch's ``F.interpolate``.

RaftMLP resamples bicubically (align_corners=False) wherever the run-time grid differs from the
one its token MLPs were built for. At a fixed input size that is a fixed linear map per axis:
``out = R @ x @ C^T`` with ``R`` of shape (out_h, in_h) and ``C`` of shape (out_w, in_w). The
matrices are torch's own bicubic weights, read off by resampling one-hot vectors, so the result
equals bicubic ``F.interpolate(x, size)`` up to float rounding. Matrix products are
faster than ATen's and onnxruntime's cubic kernels on a CPU, export to ONNX as two ``MatMul``
with constant matrices, and work on the tokens' channels-last layout without a transpose.
"""
from typing import Dict, Tuple

import torch
import torch._dynamo
import torch.nn.functional as F

Size = Tuple[int, int]


_MATRICES: Dict[str, torch.Tensor] = {}


def bicubic_matrix(in_size: int, out_size: int, device=None) -> torch.Tensor:
    """The (out_size, in_size) fp32 matrix of a 1-D bicubic resampling (align_corners=False):
    row ``o`` holds the weights torch's bicubic gives output ``o``, read off by resampling
    one-hot columns. Cached per size and device; callers must not modify it in place.
    """
    device = torch.device(device or 'cpu')
    key = f'{in_size}->{out_size}@{device}'  # a str key: torch.export traces dicts of those
    compiling = torch._dynamo.is_compiling()  # torch.export / torch.compile: fake tensors
    if key in _MATRICES and not compiling:  # (a cached tensor is no constant to them)
        return _MATRICES[key]
    # computed outside any jit trace (torch.onnx.export, torch.jit.trace): the graph then holds
    # the matrix as a constant, not the resampling that produced it
    tracing = torch._C._get_tracing_state()
    torch._C._set_tracing_state(None)
    try:
        with torch.no_grad():
            one_hot = torch.eye(in_size).reshape(in_size, 1, in_size, 1)
            columns = F.interpolate(one_hot, size=(out_size, 1), mode='bicubic',
                                    align_corners=False)
            matrix = columns.reshape(in_size, out_size).t().contiguous().to(device)
    finally:
        torch._C._set_tracing_state(tracing)
    if not compiling:
        _MATRICES[key] = matrix
    return matrix


def _fp32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float32 else x.float()  # no Cast in a traced fp32 graph


def resize_bicubic(x: torch.Tensor, size: Size) -> torch.Tensor:
    """Bicubic resample of an NCHW map to ``size`` (align_corners=False), computed in fp32.

    Bicubic overshoot and the large token grids are sensitive to half precision, so autocast is
    off here and the result is cast back to the input's dtype. An axis whose size does not
    change is left alone (its matrix would be the identity).
    """
    (H, W), (h, w) = x.shape[-2:], size
    if (H, W) == (h, w):
        return x
    with torch.autocast(device_type=x.device.type, enabled=False):
        y = _fp32(x)
        if h != H:
            y = bicubic_matrix(H, h, x.device) @ y  # (B, C, H, W) -> (B, C, h, W)
        if w != W:
            y = y @ bicubic_matrix(W, w, x.device).t()  # (B, C, h, W) -> (B, C, h, w)
    return y if y.dtype == x.dtype else y.to(x.dtype)


def resize_bicubic_tokens(x: torch.Tensor, size: Size) -> torch.Tensor:
    """:func:`resize_bicubic` of a channels-last token map (B, H, W, C), without transposes."""
    B, H, W, C = x.shape
    h, w = size
    if (H, W) == (h, w):
        return x
    with torch.autocast(device_type=x.device.type, enabled=False):
        y = _fp32(x)
        if h != H:  # (B, H, W*C) -> (B, h, W*C)
            y = bicubic_matrix(H, h, x.device) @ y.reshape(B, H, W * C)
        if w != W:  # (B*h, W, C) -> (B*h, w, C)
            y = bicubic_matrix(W, w, x.device) @ y.reshape(B * h, W, C)
    y = y.reshape(B, h, w, C)
    return y if y.dtype == x.dtype else y.to(x.dtype)
