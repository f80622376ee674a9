"""Pre-norm Transformer block on a token grid: ``x += attn(norm1(x)); x += mlp(norm2(x))``."""

from __future__ import annotations

from functools import lru_cache

import torch
from timm.layers import DropPath
from torch import nn

from hirisearch.cost.types import CostNode
from hirisearch.layers.attention import (
    Attention,
    ClassAttention,
    attention_cost,
    class_attention_cost,
)
from hirisearch.layers.mlp import Mlp, mlp_cost
from hirisearch.layers.norm_act import ActKind, NormKind, make_norm, norm_cost


class TransformerBlock(nn.Module):
    """Multi-head self-attention (optional key/value reduction) + MLP with a depth-wise conv."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        sr_ratio: int = 1,
        qkv_bias: bool = True,
        dw_conv: bool = True,
        norm: NormKind = "ln",
        act: ActKind = "gelu",
        drop_path: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.norm1 = make_norm(norm, dim, "tokens", **dd)
        self.attn = Attention(dim, num_heads, sr_ratio=sr_ratio, qkv_bias=qkv_bias, norm=norm, **dd)
        self.norm2 = make_norm(norm, dim, "tokens", **dd)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dw_conv=dw_conv, act=act, **dd)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))


@lru_cache(maxsize=4096)
def transformer_block_cost(
    dim: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    sr_ratio: int = 1,
    qkv_bias: bool = True,
    dw_conv: bool = True,
    norm: NormKind = "ln",
    act: ActKind = "gelu",
    hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`TransformerBlock` (drop path does no inference work)."""
    elements = dim * hw[0] * hw[1]
    ln = CostNode.leaf(norm_cost(norm, dim, elements))
    return CostNode.of(
        [
            ("norm1", ln),
            (
                "attn",
                attention_cost(
                    dim, num_heads, sr_ratio=sr_ratio, qkv_bias=qkv_bias, norm=norm, hw=hw
                ),
            ),
            ("norm2", ln),
            ("mlp", mlp_cost(dim, int(dim * mlp_ratio), dw_conv=dw_conv, act=act, hw=hw)),
        ]
    )


class ClassBlock(nn.Module):
    """Class-attention block (CaiT): only the class token (first token) is updated.

    ``cls = cls + attn(norm1(x)); cls = cls + mlp(norm2(cls))``; returns the class token (B, 1, C).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm: NormKind = "ln",
        act: ActKind = "gelu",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.norm1 = make_norm(norm, dim, "tokens", **dd)
        self.attn = ClassAttention(dim, num_heads, qkv_bias=qkv_bias, **dd)
        self.norm2 = make_norm(norm, dim, "tokens", **dd)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dw_conv=False, act=act, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = x[:, :1] + self.attn(self.norm1(x))
        return cls + self.mlp(self.norm2(cls), (1, 1))


@lru_cache(maxsize=1024)
def class_block_cost(
    dim: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    norm: NormKind = "ln",
    act: ActKind = "gelu",
    tokens: int,
) -> CostNode:
    """Cost twin of :class:`ClassBlock` over ``tokens`` tokens (class token included)."""
    return CostNode.of(
        [
            ("norm1", CostNode.leaf(norm_cost(norm, dim, dim * tokens))),
            ("attn", class_attention_cost(dim, num_heads, qkv_bias=qkv_bias, tokens=tokens)),
            ("norm2", CostNode.leaf(norm_cost(norm, dim, dim))),
            ("mlp", mlp_cost(dim, int(dim * mlp_ratio), dw_conv=False, act=act, hw=(1, 1))),
        ],
        out_shape=(1, dim),
    )
