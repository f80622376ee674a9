"""Multi-head self-attention with optional key/value spatial reduction (PVT style), class
attention (CaiT style, as in the heads of Wave-ViT and Dual-ViT), and cross-attention of one token
set over another (PIIP's regular-attention interactions).

Both call ``F.scaled_dot_product_attention``; the cost twins count the two attention matmuls.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.norm_act import NormKind, norm_cost, norm_train
from hirisearch.train.tape import Sym, Tape


@lru_cache(maxsize=4096)
def attention_cost(
    dim: int,
    num_heads: int,
    *,
    sr_ratio: int = 1,
    qkv_bias: bool = True,
    norm: NormKind = "ln",
    hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`Attention` on an ``hw`` token grid."""
    n = hw[0] * hw[1]
    children = [("q", CostNode.leaf(P.linear(dim, dim, n, bias=qkv_bias)))]
    kv_tokens = n
    if sr_ratio > 1:
        r_hw = (hw[0] // sr_ratio, hw[1] // sr_ratio)
        kv_tokens = r_hw[0] * r_hw[1]
        children.append(("sr", CostNode.leaf(P.conv2d(dim, dim, sr_ratio, r_hw, bias=True))))
        children.append(("norm", CostNode.leaf(norm_cost(norm, dim, dim * kv_tokens))))
    children.append(("kv", CostNode.leaf(P.linear(dim, 2 * dim, kv_tokens, bias=qkv_bias))))
    children.append(("proj", CostNode.leaf(P.linear(dim, dim, n))))
    own = P.attention(num_heads, n, kv_tokens, dim // num_heads)
    return CostNode.of(children, own=own, out_shape=(n, dim))


@lru_cache(maxsize=1024)
def class_attention_cost(
    dim: int, num_heads: int, *, qkv_bias: bool = True, tokens: int
) -> CostNode:
    """Cost twin of :class:`ClassAttention` over ``tokens`` tokens (class token included)."""
    children = [
        ("q", CostNode.leaf(P.linear(dim, dim, 1, bias=qkv_bias))),
        ("kv", CostNode.leaf(P.linear(dim, 2 * dim, tokens, bias=qkv_bias))),
        ("proj", CostNode.leaf(P.linear(dim, dim, 1))),
    ]
    own = P.attention(num_heads, 1, tokens, dim // num_heads)
    return CostNode.of(children, own=own, out_shape=(1, dim))


@lru_cache(maxsize=1024)
def cross_attention_cost(
    dim: int,
    num_heads: int,
    *,
    feat_dim: int | None = None,
    qkv_bias: bool = False,
    query_tokens: int,
    feat_tokens: int,
) -> CostNode:
    """Cost twin of :class:`CrossAttention`: ``query_tokens`` queries of width ``dim`` attend to
    ``feat_tokens`` tokens of width ``feat_dim`` (default ``dim``)."""
    f = feat_dim or dim
    children = [
        ("q", CostNode.leaf(P.linear(dim, dim, query_tokens, bias=qkv_bias))),
        ("k", CostNode.leaf(P.linear(f, dim, feat_tokens, bias=qkv_bias))),
        ("v", CostNode.leaf(P.linear(f, dim, feat_tokens, bias=qkv_bias))),
        ("proj", CostNode.leaf(P.linear(dim, dim, query_tokens))),
    ]
    own = P.attention(num_heads, query_tokens, feat_tokens, dim // num_heads)
    return CostNode.of(children, own=own, out_shape=(query_tokens, dim))


def attention_train(
    t: Tape,
    x: Sym,
    dim: int,
    num_heads: int,
    *,
    sr_ratio: int = 1,
    qkv_bias: bool = True,
    norm: NormKind = "ln",
    hw: tuple[int, int],
) -> Sym:
    """Training twin of :class:`Attention` on an ``hw`` token grid."""
    n = hw[0] * hw[1]
    with t.module("q"):
        q = t.linear(x, dim, dim, bias=qkv_bias)
    kv_tokens = n
    if sr_ratio > 1:  # the tokens viewed as a map (no copy), reduced, normalised
        kv_tokens = (hw[0] // sr_ratio) * (hw[1] // sr_ratio)
        with t.module("sr"):
            x = t.conv(x, dim, dim, sr_ratio, kv_tokens * dim, bias=True)
        with t.module("norm"):
            x = norm_train(t, x, norm, dim)
    with t.module("kv"):
        kv = t.linear(x, dim, 2 * dim, bias=qkv_bias)
    k = t.view(kv, kv_tokens * dim)
    out = t.attention(q, k, k, heads=num_heads, nq=n, nk=kv_tokens, head_dim=dim // num_heads)
    with t.module("proj"):
        return t.linear(out, dim, dim)


def class_attention_train(
    t: Tape, x: Sym, dim: int, num_heads: int, *, qkv_bias: bool = True, tokens: int
) -> Sym:
    """Training twin of :class:`ClassAttention` over ``tokens`` tokens: the class token's query
    reads a view of the whole normalised input."""
    with t.module("q"):
        q = t.linear(t.view(x, dim), dim, dim, bias=qkv_bias)
    with t.module("kv"):
        kv = t.linear(x, dim, 2 * dim, bias=qkv_bias)
    k = t.view(kv, tokens * dim)
    out = t.attention(q, k, k, heads=num_heads, nq=1, nk=tokens, head_dim=dim // num_heads)
    with t.module("proj"):
        return t.linear(out, dim, dim)
