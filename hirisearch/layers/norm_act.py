"""Normalisation and activation factories shared by every family.

Norm kinds: ``"bn"`` (BatchNorm) and ``"ln"`` (LayerNorm), usable on maps (NCHW) and on tokens
(B, N, C), so a spec can move BN/LN between convolutional and token parts, as HIRI-ViT's ablation
does. Activation kinds: ``"gelu"``, ``"relu"``, ``"silu"``, ``"hardswish"``.
"""

from __future__ import annotations

from typing import Literal

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost
from hirisearch.train.tape import Sym, Tape

NormKind = Literal["bn", "ln"]
ActKind = Literal["gelu", "relu", "silu", "hardswish"]
Layout = Literal["map", "tokens"]


def norm_cost(kind: NormKind, dim: int, elements: int) -> Cost:
    """Cost twin of :func:`make_norm` over ``elements`` values (the layout does not change it)."""
    return P.batch_norm(dim, elements) if kind == "bn" else P.layer_norm(dim, elements)


def norm_train(t: Tape, x: Sym, kind: NormKind, dim: int) -> Sym:
    """Training twin of :func:`make_norm` (batch norm with batch statistics; LayerNorm over the
    channels, also of a map, whose permuted view it keeps)."""
    return t.batch_norm(x, dim) if kind == "bn" else t.layer_norm(x, dim)
