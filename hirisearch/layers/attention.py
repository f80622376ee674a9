"""Multi-head self-attention with optional key/value spatial reduction (PVT style), and class
attention (CaiT style, as in the heads of Wave-ViT and Dual-ViT).

Both call ``F.scaled_dot_product_attention``; the cost twins count the two attention matmuls.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.norm_act import NormKind, make_norm, norm_cost


class Attention(nn.Module):
    """Self-attention on tokens (B, N, C) laid out on an ``hw`` grid.

    With ``sr_ratio > 1`` keys and values come from the grid reduced by a ``sr_ratio`` x
    ``sr_ratio`` stride-``sr_ratio`` convolution followed by a norm, which divides the attention
    cost by ``sr_ratio ** 2``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        sr_ratio: int = 1,
        qkv_bias: bool = True,
        norm: NormKind = "ln",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias, **dd)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias, **dd)
        self.proj = nn.Linear(dim, dim, **dd)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, sr_ratio, **dd)
            self.norm = make_norm(norm, dim, "tokens", **dd)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(b, n, heads, c // heads).transpose(1, 2)
        if self.sr_ratio > 1:
            grid = x.transpose(1, 2).reshape(b, c, hw[0], hw[1])
            x = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
        k, v = self.kv(x).reshape(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


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


class ClassAttention(nn.Module):
    """Attention of the class token (first token) over all tokens; returns the updated class token."""

    def __init__(
        self, dim: int, num_heads: int, *, qkv_bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias, **dd)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias, **dd)
        self.proj = nn.Linear(dim, dim, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x[:, :1]).reshape(b, 1, heads, c // heads).transpose(1, 2)
        k, v = self.kv(x).reshape(b, n, 2, heads, c // heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, 1, c))


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
