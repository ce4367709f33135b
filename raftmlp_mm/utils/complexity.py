"""Parameter and MAC counts as the paper's tables count them (linear layers only).

MACs are multiply-accumulates of every Linear (token and channel MLPs) and of the patch
embeddings, counted as the original's Linear over the concatenated multi-scale patches.
LayerNorm, GELU, pooling and the bicubic resampling are not counted.
"""
from typing import Tuple

import torch
from torch import nn

from ..models.raftmlp import MultiScalePatchEmbed


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_linear_macs(model: nn.Module, input_size: Tuple[int, int] = (224, 224),
                      in_channels: int = 3) -> int:
    """MACs of one forward pass of a single image of ``input_size`` (H, W)."""
    total = 0

    def linear_hook(module, inputs, output):
        nonlocal total
        total += output.numel() * module.in_features

    def embed_hook(module, inputs, output):
        nonlocal total
        features = module.in_channels * sum(k * k for k in module.kernel_sizes)
        total += output.numel() * features

    def conv_hook(module, inputs, output):
        nonlocal total
        kernel = module.weight[0].numel() if isinstance(module, nn.Conv2d) else \
            module.weight.shape[0] // module.groups * module.weight[0, 0].numel()
        total += output.numel() * kernel

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
        elif isinstance(module, MultiScalePatchEmbed):
            handles.append(module.register_forward_hook(embed_hook))
        elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            handles.append(module.register_forward_hook(conv_hook))
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters())
        model(torch.zeros(1, in_channels, *input_size, device=param.device, dtype=param.dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total
