"""The ``nn.Module`` half of :mod:`hirisearch.layers.interaction` (imported only when a model is built).

PIIP's cross-branch interaction: injectors and the interaction unit.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hirisearch.layers.attention_nn import CrossAttention
from hirisearch.layers.deformable_nn import DeformableCrossAttention
from hirisearch.layers.interaction import Hw, InteractionAttn, Update
from hirisearch.layers.mlp_nn import Mlp
from hirisearch.layers.vit import LN_EPS


class Injector(nn.Module):
    """Cross-attention (deformable or regular) + ConvFFN, both gated by zero-initialised vectors."""

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int = 16,
        num_points: int = 4,
        value_ratio: float = 0.5,
        cffn_ratio: float = 0.25,
        attn: InteractionAttn = "deformable",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.query_norm = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.feat_norm = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.deformable = attn == "deformable"
        self.attn: nn.Module = (
            DeformableCrossAttention(
                dim, num_heads=num_heads, num_points=num_points, value_ratio=value_ratio, **dd
            )
            if self.deformable
            else CrossAttention(dim, num_heads, **dd)
        )
        self.ca_gamma = nn.Parameter(torch.zeros(dim, **dd))
        self.ffn_norm = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.ffn = Mlp(dim, int(dim * cffn_ratio), dw_conv=True, **dd)
        self.cffn_gamma = nn.Parameter(torch.zeros(dim, **dd))

    def forward(
        self, query: torch.Tensor, query_hw: Hw, feat: torch.Tensor, feat_hw: Hw
    ) -> torch.Tensor:
        q, f = self.query_norm(query), self.feat_norm(feat)
        attn = self.attn(q, query_hw, f, feat_hw) if self.deformable else self.attn(q, f)
        query = query + self.ca_gamma * attn
        return query + self.cffn_gamma * self.ffn(self.ffn_norm(query), query_hw)


class InteractionUnit(nn.Module):
    """Interaction between branch ``a`` (width ``dim_a``) and branch ``b``: both ways, or only
    into ``a`` or only into ``b`` (``update``)."""

    def __init__(
        self,
        dim_a: int,
        dim_b: int,
        *,
        num_heads: int = 16,
        num_points: int = 4,
        value_ratio: float = 0.5,
        cffn_ratio: float = 0.25,
        attn: InteractionAttn = "deformable",
        update: Update = "both",
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
            attn=attn,
        )
        self.update = update
        if update != "b":
            self.b_to_a = nn.Linear(dim_b, dim_a, **dd)
        if update != "a":
            self.a_to_b = nn.Linear(dim_a, dim_b, **dd)
        if update != "b":
            self.inject_a = Injector(dim_a, **kw, **dd)
        if update != "a":
            self.inject_b = Injector(dim_b, **kw, **dd)

    def forward(
        self, xa: torch.Tensor, a_hw: Hw, xb: torch.Tensor, b_hw: Hw
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # both projections read the features before either branch is updated
        pb = self.b_to_a(xb) if self.update != "b" else None
        pa = self.a_to_b(xa) if self.update != "a" else None
        ya = self.inject_a(xa, a_hw, pb, b_hw) if pb is not None else xa
        yb = self.inject_b(xb, b_hw, pa, a_hw) if pa is not None else xb
        return ya, yb
