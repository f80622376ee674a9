"""Normalisation and activation factories shared by every family.

Norm kinds: ``"bn"`` (BatchNorm) and ``"ln"`` (LayerNorm), usable on maps (NCHW) and on tokens
(B, N, C), so a spec can move BN/LN between convolutional and token parts, as HIRI-ViT's ablation
does. Activation kinds: ``"gelu"``, ``"relu"``, ``"silu"``, ``"hardswish"``.
"""

from __future__ import annotations

from typing import Literal

import torch
from timm.layers import LayerNorm2d
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost

NormKind = Literal["bn", "ln"]
ActKind = Literal["gelu", "relu", "silu", "hardswish"]
Layout = Literal["map", "tokens"]

_ACTS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
}


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the channel axis of a token tensor (B, N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def make_norm(
    kind: NormKind, dim: int, layout: Layout, *, eps: float | None = None, device=None, dtype=None
) -> nn.Module:
    """A normalisation layer of ``kind`` for a map or token ``layout``."""
    dd = {"device": device, "dtype": dtype}
    if kind == "bn":
        bn: type[nn.Module] = nn.BatchNorm2d if layout == "map" else TokenBatchNorm
        return bn(dim, eps=1e-5 if eps is None else eps, **dd)
    if kind == "ln":
        ln: type[nn.Module] = LayerNorm2d if layout == "map" else nn.LayerNorm
        return ln(dim, eps=1e-6 if eps is None else eps, **dd)
    raise ValueError(f"unknown norm kind {kind!r}; valid: 'bn', 'ln'")


def norm_cost(kind: NormKind, dim: int, elements: int) -> Cost:
    """Cost twin of :func:`make_norm` over ``elements`` values (the layout does not change it)."""
    return P.batch_norm(dim, elements) if kind == "bn" else P.layer_norm(dim, elements)


def make_act(kind: ActKind) -> nn.Module:
    """An activation module; activations do no counted work, so they have no cost twin."""
    try:
        return _ACTS[kind]()
    except KeyError:
        raise ValueError(f"unknown activation {kind!r}; valid: {', '.join(_ACTS)}") from None
