"""Inference-time folding of BatchNorm into the preceding convolution.

For ``y = BN(conv(x))`` in eval mode, ``BN(z) = gamma * (z - mean) / sqrt(var + eps) + beta``
is a per-channel affine map, so it folds into the conv: ``W' = W * s`` and
``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``. The fused model computes the
same function with one pass over the output fewer per conv.
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.errors import HirisearchError
from hirisearch.layers.conv_nn import ConvNormAct

__all__ = ["fold_bn", "fuse_model"]


@torch.no_grad()
def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv computing ``bn(conv(x))`` with ``bn`` in eval mode (running statistics)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm without running statistics cannot be folded")
    fused = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        _pair(conv.kernel_size),
        _pair(conv.stride),
        conv.padding if isinstance(conv.padding, str) else _pair(conv.padding),
        _pair(conv.dilation),
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    if fused.bias is None:  # cannot happen: built with bias=True
        raise HirisearchError("nn.Conv2d(bias=True) has no bias")
    fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
    fused.bias.copy_(shift)
    return fused.to(memory_format=torch.channels_last) if _is_cl(conv.weight) else fused


def _pair(size: tuple[int, ...]) -> tuple[int, int]:
    """A 2-d conv's ``(h, w)`` attribute (typed ``tuple[int, ...]`` on ``_ConvNd``)."""
    h, w = size
    return h, w


def _is_cl(w: torch.Tensor) -> bool:
    return (
        w.dim() == 4
        and w.is_contiguous(memory_format=torch.channels_last)
        and not w.is_contiguous()
    )


def fuse_model(model: nn.Module) -> int:
    """Fold the BatchNorm of every :class:`ConvNormAct` of ``model`` into its conv, in place.

    The model is put in eval mode (folding uses the running statistics). Returns how many convs
    were fused; layers with another norm (LayerNorm) are left alone.
    """
    model.eval()
    count = 0
    for module in model.modules():
        if isinstance(module, ConvNormAct) and isinstance(module.norm, nn.BatchNorm2d):
            module.conv = fold_bn(module.conv, module.norm)
            module.norm = nn.Identity()
            count += 1
    return count
