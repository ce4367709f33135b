"""RoIAlign as two matrix products per image, exact to mmcv's ``RoIAlign`` (average pooling).

RoIAlign (He et al., Mask R-CNN, arXiv 1703.06870) averages, for every output bin, bilinear
samples of the feature map on a regular grid inside the bin. Every step of it is separable: a
sample's bilinear weight is a y weight times an x weight, the sample grid is a product of a y
grid and an x grid, and mmcv's test for a sample outside the map is a y test and an x test. So
for one RoI on one (C, H, W) map the output is ``Ay @ x[c] @ Ax^T`` for every channel, with
``Ay`` (out_h, H) and ``Ax`` (out_w, W) built from the RoI's coordinates. The products run as
two GEMMs per image on every core, forward and backward (autograd), where mmcv's CPU kernels
loop over samples on one core (about a third of a `make demo` iteration; with this layer one
iteration takes 1.40 s instead of 1.78 s, docs/benchmarks.md).

The products cost ``C * H * W * rois * out_w`` multiply-adds per level, against mmcv's
``C * rois * out_h * out_w * samples * 4``: cheaper in time on small maps (the CPU demos' 32x32
finest level), dearer on COCO-sized ones (200x304), where mmcv's kernels (or a GPU) remain the
right choice. ``tests/test_roi_align.py`` holds it to mmcv's output and gradients.
"""
from typing import Tuple, Union

import torch
from torch import nn


def axis_matrices(start: torch.Tensor, size: torch.Tensor, bins: int, length: int,
                  sampling_ratio: int) -> torch.Tensor:
    """The (n, bins, length) matrices that RoIAlign applies along one axis of a map.

    ``start`` and ``size`` (n,) are the RoIs' extents on this axis in map pixels, as mmcv
    computes them. Row ``i`` of RoI ``r`` averages the linear-interpolation weights of the
    bin's samples, following mmcv's CPU kernel: ``sampling_ratio`` samples per bin or, when it
    is 0, ``ceil(size / bins)``; a sample further than one pixel outside the map contributes
    nothing; positions are clamped to the map's first and last pixel.
    """
    n = start.shape[0]
    bin_size = size / bins
    if sampling_ratio > 0:
        samples = torch.full_like(size, sampling_ratio)
    else:
        samples = torch.ceil(size / bins)
    most = max(int(samples.max().item()) if n else 1, 1)
    i = torch.arange(bins, dtype=size.dtype, device=size.device).view(1, bins, 1)
    k = torch.arange(most, dtype=size.dtype, device=size.device).view(1, 1, most)
    start, bin_size, samples = (t.view(n, 1, 1) for t in (start, bin_size, samples))
    pos = start + i * bin_size + (k + 0.5) * bin_size / samples.clamp(min=1)  # (n, bins, most)
    weight = ((k < samples) & (pos >= -1) & (pos <= length)).to(size.dtype) / samples.clamp(min=1)
    pos = pos.clamp(min=0)
    low = pos.floor().long()
    at_end = low >= length - 1
    low = torch.where(at_end, torch.full_like(low, length - 1), low)
    high = torch.where(at_end, low, low + 1)
    frac = torch.where(at_end, torch.zeros_like(pos), pos - low.to(pos.dtype))
    matrix = size.new_zeros(n, bins, length)
    matrix.scatter_add_(2, low, weight * (1 - frac))
    matrix.scatter_add_(2, high, weight * frac)
    return matrix


def roi_align(feats: torch.Tensor, rois: torch.Tensor, output_size: Tuple[int, int],
              spatial_scale: float, sampling_ratio: int = 0, aligned: bool = True) -> torch.Tensor:
    """mmcv's ``roi_align(..., pool_mode='avg')`` computed as matrix products.

    Args:
        feats: (B, C, H, W) feature map.
        rois: (n, 5) rows of (image index, x1, y1, x2, y2) in input-image pixels.
    Returns:
        (n, C, out_h, out_w).
    """
    out_h, out_w = output_size
    _, channels, height, width = feats.shape
    if rois.shape[0] == 0:
        return feats.new_zeros(0, channels, out_h, out_w)
    offset = 0.5 if aligned else 0.0  # aligned: pixel centres at half-integer coordinates
    boxes = rois[:, 1:].to(feats.dtype) * spatial_scale - offset  # (n, 4) in map pixels
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    if not aligned:  # mmcv's legacy mode: RoIs at least one pixel wide
        widths, heights = widths.clamp(min=1), heights.clamp(min=1)
    along_y = axis_matrices(boxes[:, 1], heights, out_h, height, sampling_ratio)  # (n, oh, H)
    along_x = axis_matrices(boxes[:, 0], widths, out_w, width, sampling_ratio)  # (n, ow, W)
    image_of_roi = rois[:, 0].long()
    order = torch.argsort(image_of_roi, stable=True)  # mmdet's RoIs come sorted already
    is_sorted = bool((order == torch.arange(order.numel(), device=order.device)).all())
    if not is_sorted:
        image_of_roi, along_y, along_x = image_of_roi[order], along_y[order], along_x[order]
    images, counts = torch.unique_consecutive(image_of_roi, return_counts=True)
    # (B, H, C, W): rows of the map first, so that both products below read and write whole
    # contiguous blocks; one copy of the map instead of a re-layout of every RoI's intermediate
    rows_first = feats.transpose(1, 2).contiguous()
    pooled = []
    for image, ys, xs in zip(images.tolist(), along_y.split(counts.tolist()),
                             along_x.split(counts.tolist())):
        count = ys.shape[0]
        # y first, all of this image's RoIs in one GEMM: (n_b*oh, H) @ (H, C*W)
        rows = ys.reshape(-1, height) @ rows_first[image].view(height, channels * width)
        # then x, one small GEMM per RoI: (oh*C, W) @ (W, ow)
        cols = rows.view(count, out_h * channels, width).bmm(xs.transpose(1, 2))
        pooled.append(cols.view(count, out_h, channels, out_w))  # (n_b, oh, C, ow)
    out = torch.cat(pooled).transpose(1, 2).contiguous()  # (n, C, oh, ow)
    if not is_sorted:
        out = out[torch.argsort(order)]
    return out


class MatmulRoIAlign(nn.Module):
    """Drop-in for ``mmcv.ops.RoIAlign`` with ``pool_mode='avg'``, computed by ``roi_align``.

    Same arguments and outputs; mmdet's RoI extractors build it from
    ``roi_layer=dict(type='MatmulRoIAlign', output_size=7, sampling_ratio=0)`` through
    ``raftmlp_mm.SingleRoIExtractor`` (raftmlp_mm/models/roi_extractor.py).
    """

    def __init__(self, output_size: Union[int, Tuple[int, int]], spatial_scale: float = 1.0,
                 sampling_ratio: int = 0, pool_mode: str = 'avg', aligned: bool = True):
        super().__init__()
        if pool_mode != 'avg':
            raise ValueError(f"MatmulRoIAlign computes pool_mode='avg' only, got {pool_mode!r}: "
                             "use mmcv's RoIAlign for max pooling")
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else \
            tuple(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = aligned

    def forward(self, feats: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return roi_align(feats, rois, self.output_size, self.spatial_scale, self.sampling_ratio,
                         self.aligned)

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}, aligned={self.aligned}')
