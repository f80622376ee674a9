"""The ``nn.Module`` half of :mod:`hirisearch.layers.norm_act` (imported only when a model is built).

Normalisation and activation factories shared by every family.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.norm_act import GN_GROUPS, ActKind, Layout, MapNormKind

_ACTS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
}


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (timm's ``LayerNorm2d``, without importing timm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the channel axis of a token tensor (B, N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def make_norm(
    kind: MapNormKind,
    dim: int,
    layout: Layout,
    *,
    eps: float | None = None,
    device=None,
    dtype=None,
) -> nn.Module:
    """A normalisation layer of ``kind`` for a map or token ``layout`` (``"gn"``: maps only)."""
    dd = {"device": device, "dtype": dtype}
    if kind == "bn":
        bn: type[nn.Module] = nn.BatchNorm2d if layout == "map" else TokenBatchNorm
        return bn(dim, eps=1e-5 if eps is None else eps, **dd)
    if kind == "ln":
        ln: type[nn.Module] = LayerNorm2d if layout == "map" else nn.LayerNorm
        return ln(dim, eps=1e-6 if eps is None else eps, **dd)
    if kind == "gn" and layout == "map":
        return nn.GroupNorm(GN_GROUPS, dim, eps=1e-5 if eps is None else eps, **dd)
    raise ValueError(f"unknown norm kind {kind!r} for {layout}; valid: 'bn', 'ln', 'gn' (maps)")


def make_act(kind: ActKind) -> nn.Module:
    """An activation module; activations do no counted work, so they have no cost twin."""
    try:
        return _ACTS[kind]()
    except KeyError:
        raise ValueError(f"unknown activation {kind!r}; valid: {', '.join(_ACTS)}") from None
