"""Pre-norm Transformer block on a token grid: ``x += attn(norm1(x)); x += mlp(norm2(x))``."""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost.types import CostNode
from hirisearch.layers.attention import (
    attention_cost,
    attention_train,
    class_attention_cost,
    class_attention_train,
)
from hirisearch.layers.mlp import mlp_cost, mlp_train
from hirisearch.layers.norm_act import ActKind, NormKind, norm_cost, norm_train
from hirisearch.train.tape import Sym, Tape


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


def transformer_block_train(
    t: Tape,
    x: Sym,
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
    hw: tuple[int, int],
) -> Sym:
    """Training twin of :class:`TransformerBlock`."""
    with t.module("norm1"):
        h = norm_train(t, x, norm, dim)
    with t.module("attn"):
        h = attention_train(
            t, h, dim, num_heads, sr_ratio=sr_ratio, qkv_bias=qkv_bias, norm=norm, hw=hw
        )
    with t.module("drop_path"):
        h = t.drop_path(h, drop_path)
    x = t.add(x, h)
    with t.module("norm2"):
        h = norm_train(t, x, norm, dim)
    with t.module("mlp"):
        h = mlp_train(t, h, dim, int(dim * mlp_ratio), dw_conv=dw_conv, act=act, hw=hw)
    with t.module("drop_path"):
        h = t.drop_path(h, drop_path)
    return t.add(x, h)


def class_block_train(
    t: Tape,
    x: Sym,
    dim: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    norm: NormKind = "ln",
    act: ActKind = "gelu",
    tokens: int,
) -> Sym:
    """Training twin of :class:`ClassBlock`: returns the class token."""
    with t.module("norm1"):
        h = norm_train(t, x, norm, dim)
    with t.module("attn"):
        h = class_attention_train(t, h, dim, num_heads, qkv_bias=qkv_bias, tokens=tokens)
    cls = t.add(t.view(x, dim), h)
    with t.module("norm2"):
        h = norm_train(t, cls, norm, dim)
    with t.module("mlp"):
        h = mlp_train(t, h, dim, int(dim * mlp_ratio), dw_conv=False, act=act, hw=(1, 1))
    return t.add(cls, h)
