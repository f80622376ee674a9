"""Pre-norm Transformer block on a token grid: ``x += attn(norm1(x)); x += mlp(norm2(x))``."""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost.types import CostNode
from hirisearch.layers.attention import attention_cost, class_attention_cost
from hirisearch.layers.mlp import mlp_cost
from hirisearch.layers.norm_act import ActKind, NormKind, norm_cost


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
