"""Normalisation and activation factories shared by every family.

Norm kinds: ``"bn"`` (BatchNorm) and ``"ln"`` (LayerNorm), usable on maps (NCHW) and on tokens
(B, N, C), so a spec can move BN/LN between convolutional and token parts, as HIRI-ViT's ablation
does; on maps also ``"gn"`` (GroupNorm of :data:`GN_GROUPS` groups, as detection and segmentation
heads use it: ``MapNormKind``). Activation kinds: ``"gelu"``, ``"relu"``, ``"silu"``, ``"hardswish"``.
"""

from __future__ import annotations

from typing import Literal

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost
from hirisearch.train.tape import Sym, Tape

NormKind = Literal["bn", "ln"]
MapNormKind = Literal["bn", "ln", "gn"]
#: Groups of a ``"gn"`` norm (mmcv's and detectron2's heads use 32).
GN_GROUPS = 32
ActKind = Literal["gelu", "relu", "silu", "hardswish"]
Layout = Literal["map", "tokens"]


def norm_cost(kind: MapNormKind, dim: int, elements: int) -> Cost:
    """Cost twin of :func:`make_norm` over ``elements`` values (the layout does not change it)."""
    if kind == "gn":
        return P.group_norm(dim, elements)
    return P.batch_norm(dim, elements) if kind == "bn" else P.layer_norm(dim, elements)


def norm_train(t: Tape, x: Sym, kind: MapNormKind, dim: int) -> Sym:
    """Training twin of :func:`make_norm` (batch norm with batch statistics; LayerNorm over the
    channels, also of a map, whose permuted view it keeps)."""
    if kind == "gn":
        return t.group_norm(x, dim, GN_GROUPS)
    return t.batch_norm(x, dim) if kind == "bn" else t.layer_norm(x, dim)
