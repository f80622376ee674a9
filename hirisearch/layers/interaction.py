"""PIIP's cross-branch interaction: injectors and the bidirectional interaction unit.

Z. Zhu et al., "Parameter-Inverted Image Pyramid Networks", NeurIPS 2024 (arXiv 2406.04330).

An :class:`Injector` with query width ``d`` updates the query tokens with what it reads from another
branch's (already projected) features::

    query += ca_gamma * DeformAttn(LN(query), reference points = query-grid centres, LN(feat))
    query += cffn_gamma * ConvFFN(LN(query))        # Linear(d -> d/4), dw 3x3, GELU, Linear(-> d)

Both gammas start at zero, so an injector (and every interaction) is the identity at
initialisation. An :class:`InteractionUnit` joins branch ``a`` (bigger model, smaller grid) and
branch ``b``: both projections are computed from the features before either is updated.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.deformable import (
    DeformableCrossAttention,
    deformable_cross_attention_cost,
)
from hirisearch.layers.mlp import Mlp, mlp_cost
from hirisearch.layers.vit import LN_EPS

Hw = tuple[int, int]


class Injector(nn.Module):
    """Deformable cross-attention + ConvFFN, both gated by zero-initialised vectors."""

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int = 16,
        num_points: int = 4,
        value_ratio: float = 0.5,
        cffn_ratio: float = 0.25,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.query_norm = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.feat_norm = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.attn = DeformableCrossAttention(
            dim, num_heads=num_heads, num_points=num_points, value_ratio=value_ratio, **dd
        )
        self.ca_gamma = nn.Parameter(torch.zeros(dim, **dd))
        self.ffn_norm = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.ffn = Mlp(dim, int(dim * cffn_ratio), dw_conv=True, **dd)
        self.cffn_gamma = nn.Parameter(torch.zeros(dim, **dd))

    def forward(
        self, query: torch.Tensor, query_hw: Hw, feat: torch.Tensor, feat_hw: Hw
    ) -> torch.Tensor:
        attn = self.attn(self.query_norm(query), query_hw, self.feat_norm(feat), feat_hw)
        query = query + self.ca_gamma * attn
        return query + self.cffn_gamma * self.ffn(self.ffn_norm(query), query_hw)


@lru_cache(maxsize=1024)
def injector_cost(
    dim: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    cffn_ratio: float = 0.25,
    query_hw: Hw,
    feat_hw: Hw,
) -> CostNode:
    """Cost twin of :class:`Injector`."""
    nq = query_hw[0] * query_hw[1]
    nf = feat_hw[0] * feat_hw[1]
    attn = deformable_cross_attention_cost(
        dim,
        num_heads=num_heads,
        num_points=num_points,
        value_ratio=value_ratio,
        query_hw=query_hw,
        feat_hw=feat_hw,
    )
    return CostNode.of(
        [
            ("query_norm", CostNode.leaf(P.layer_norm(dim, dim * nq))),
            ("feat_norm", CostNode.leaf(P.layer_norm(dim, dim * nf))),
            ("attn", attn),
            ("ffn_norm", CostNode.leaf(P.layer_norm(dim, dim * nq))),
            ("ffn", mlp_cost(dim, int(dim * cffn_ratio), dw_conv=True, hw=query_hw)),
        ],
        own=P.param_only(2 * dim),
        out_shape=(nq, dim),
    )


class InteractionUnit(nn.Module):
    """Bidirectional interaction between branch ``a`` (width ``dim_a``) and branch ``b``."""

    def __init__(
        self,
        dim_a: int,
        dim_b: int,
        *,
        num_heads: int = 16,
        num_points: int = 4,
        value_ratio: float = 0.5,
        cffn_ratio: float = 0.25,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        kw: dict[str, Any] = dict(
            num_heads=num_heads,
            num_points=num_points,
            value_ratio=value_ratio,
            cffn_ratio=cffn_ratio,
        )
        self.b_to_a = nn.Linear(dim_b, dim_a, **dd)
        self.a_to_b = nn.Linear(dim_a, dim_b, **dd)
        self.inject_a = Injector(dim_a, **kw, **dd)
        self.inject_b = Injector(dim_b, **kw, **dd)

    def forward(
        self, xa: torch.Tensor, hw_a: Hw, xb: torch.Tensor, hw_b: Hw
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pa, pb = self.a_to_b(xa), self.b_to_a(xb)
        return self.inject_a(xa, hw_a, pb, hw_b), self.inject_b(xb, hw_b, pa, hw_a)


@lru_cache(maxsize=1024)
def interaction_unit_cost(
    dim_a: int,
    dim_b: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    cffn_ratio: float = 0.25,
    hw_a: Hw,
    hw_b: Hw,
) -> CostNode:
    """Cost twin of :class:`InteractionUnit`."""
    kw = dict(
        num_heads=num_heads, num_points=num_points, value_ratio=value_ratio, cffn_ratio=cffn_ratio
    )
    na, nb = hw_a[0] * hw_a[1], hw_b[0] * hw_b[1]
    return CostNode.of(
        [
            ("b_to_a", CostNode.leaf(P.linear(dim_b, dim_a, nb))),
            ("a_to_b", CostNode.leaf(P.linear(dim_a, dim_b, na))),
            ("inject_a", injector_cost(dim_a, **kw, query_hw=hw_a, feat_hw=hw_b)),
            ("inject_b", injector_cost(dim_b, **kw, query_hw=hw_b, feat_hw=hw_a)),
        ],
        out_shape=(),
    )
