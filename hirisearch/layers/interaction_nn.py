"""The ``nn.Module`` half of :mod:`hirisearch.layers.interaction` (imported only when a model is built).

PIIP's cross-branch interaction: injectors and the bidirectional interaction unit.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hirisearch.layers.deformable_nn import DeformableCrossAttention
from hirisearch.layers.interaction import (
    Hw,
)
from hirisearch.layers.mlp_nn import Mlp
from hirisearch.layers.vit import LN_EPS


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
        self, xa: torch.Tensor, a_hw: Hw, xb: torch.Tensor, b_hw: Hw
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pa, pb = self.a_to_b(xa), self.b_to_a(xb)
        return self.inject_a(xa, a_hw, pb, b_hw), self.inject_b(xb, b_hw, pa, a_hw)
