"""mmdet's ``FCNMaskHead`` whose upsampling and mask logits run as two matrix products.

After its convolutions, Mask R-CNN's mask head applies a 2x2 stride-2 transposed convolution
(14x14 -> 28x28), a ReLU and 1x1 logits. Both are per-pixel linear maps: every input pixel's C
channels become a 2x2 block of C' channels, and every output pixel's C' channels become K class
logits. So they are two GEMMs over the RoIs' pixels, with one re-layout of the input and one of
the logits. On a CPU, PyTorch 2.1 runs this transposed convolution on a slow path and the
10-channel 1x1 convolution's backward poorly; the GEMMs compute the same function with the same
parameters (state_dict keys ``upsample.*``, ``conv_logits.*``), and the demo's whole mask head
takes a quarter less time, forward and backward (about 3% of a `make demo` iteration,
docs/benchmarks.md "The demo's time").
A config names it in plain sight::

    mask_head=dict(type='raftmlp_mm.MatmulFCNMaskHead', ...)

Only the default upsampling (``deconv``, scale factor 2) is computed this way; any other head
setting runs mmdet's own forward. ``tests/test_mask_head.py`` holds it to mmdet's outputs and
gradients.
"""
import torch
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from torch import nn

from ..registry import MODELS


@MODELS.register_module()
class MatmulFCNMaskHead(FCNMaskHead):

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._upsamples_by_gemm():
            return super().forward(x)
        for conv in self.convs:
            x = conv(x)
        return upsample_and_logits(x, self.upsample.weight, self.upsample.bias,
                                   self.conv_logits.weight, self.conv_logits.bias)

    def _upsamples_by_gemm(self) -> bool:
        """Whether the layers are the plain 2x2 stride-2 deconvolution and 1x1 logits."""
        if self.upsample_method != 'deconv' or self.scale_factor != 2:
            return False
        up, logits = self.upsample, self.conv_logits
        return (isinstance(logits, nn.Conv2d) and up.bias is not None and logits.bias is not None
                and (up.kernel_size, up.stride, up.padding, up.output_padding, up.dilation,
                     up.groups) == ((2, 2), (2, 2), (0, 0), (0, 0), (1, 1), 1)
                and (logits.kernel_size, logits.stride, logits.groups) == ((1, 1), (1, 1), 1))


def upsample_and_logits(x: torch.Tensor, up_weight: torch.Tensor, up_bias: torch.Tensor,
                        logits_weight: torch.Tensor, logits_bias: torch.Tensor) -> torch.Tensor:
    """``conv_logits(relu(conv_transpose2d(x, stride 2)))`` as two GEMMs.

    x: (N, C, H, W); up_weight: (C, C', 2, 2) (transposed convolutions keep in-channels first);
    logits_weight: (K, C', 1, 1). Returns (N, K, 2H, 2W).
    """
    n, c, h, w = x.shape
    c_up, k = up_weight.shape[1], logits_weight.shape[0]
    rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # one row per input pixel
    # (C, C', dy, dx) -> (C, dy, dx, C'): a row's output is its 2x2 block, channels last
    up = torch.addmm(up_bias.repeat(4), rows,
                     up_weight.permute(0, 2, 3, 1).reshape(c, 4 * c_up)).relu_()
    logits = torch.addmm(logits_bias, up.view(-1, c_up), logits_weight.view(k, c_up).t())
    # (n, y, x, dy, dx, K) -> (n, K, y, dy, x, dx) = (N, K, 2H, 2W)
    logits = logits.view(n, h, w, 2, 2, k).permute(0, 5, 1, 3, 2, 4)
    return logits.reshape(n, k, 2 * h, 2 * w)
