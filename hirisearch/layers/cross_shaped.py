"""Cross-shaped window self-attention with a shared key/value projection (HRViT).

Half of the channels attend inside horizontal stripes (``window_size`` rows x the full width), the
other half inside vertical stripes (``window_size`` columns x the full height). Keys are the values
(one ``qv`` projection gives queries and values, which halves the projection cost). A parallel
depth-wise 3x3 conv on the values adds locality; the sum goes through Hardswish, the output
projection and a BatchNorm whose scale starts at zero (the attention path is silent at
initialisation, as in the paper).

A map whose side is not a multiple of ``window_size`` is zero-padded to the next multiple; padded
keys are masked out, so valid queries never see them. Attention runs through
``F.scaled_dot_product_attention`` (counted on the meta device).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.norm_act import TokenBatchNorm

Hw = tuple[int, int]


def stripe_heads(dim: int, head_dim: int) -> tuple[int, int]:
    """(heads, channels per head) of one half (``dim // 2`` channels) of the attention.

    A half narrower than ``head_dim`` runs as a single head of its own width.
    """
    half = dim // 2
    width = min(head_dim, half)
    return half // width, width


class CrossShapedAttention(nn.Module):
    """Cross-shaped window attention on tokens (B, N, C) laid out on an ``hw`` grid."""

    def __init__(
        self, dim: int, head_dim: int, window_size: int, *, device=None, dtype=None
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.window_size = window_size
        self.heads, self.head_width = stripe_heads(dim, head_dim)
        self.qv = nn.Linear(dim, 2 * dim, **dd)
        self.act = nn.Hardswish()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim, **dd)
        self.proj = nn.Linear(dim, dim, **dd)
        self.norm = TokenBatchNorm(dim, **dd)
        # Zero-initialised BN scale: the block starts as its shortcut (paper, Sec. 3.2).
        nn.init.zeros_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)

    def _stripes(self, q: torch.Tensor, kv: torch.Tensor, hw: Hw, vertical: bool) -> torch.Tensor:
        """Attention of (B, N, c) queries over keys = values inside stripes of ``window_size``."""
        b, n, c = q.shape
        h, w = hw
        q, kv = q.reshape(b, h, w, c), kv.reshape(b, h, w, c)
        if vertical:  # columns become rows, so one code path handles both directions
            q, kv, h, w = q.transpose(1, 2), kv.transpose(1, 2), w, h
        ws = self.window_size
        pad = (-h) % ws
        if pad:
            q, kv = F.pad(q, (0, 0, 0, 0, 0, pad)), F.pad(kv, (0, 0, 0, 0, 0, pad))
        stripes, tokens = (h + pad) // ws, ws * w

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, stripes, tokens, self.heads, self.head_width).transpose(2, 3)

        mask = None
        if pad:
            mask = torch.zeros(stripes, 1, 1, tokens, device=q.device, dtype=q.dtype)
            mask[-1, ..., (ws - pad) * w :] = float("-inf")
        k = split(kv)
        out = F.scaled_dot_product_attention(split(q), k, k, attn_mask=mask)
        out = out.transpose(2, 3).reshape(b, h + pad, w, c)[:, :h]
        if vertical:
            out = out.transpose(1, 2)
        return out.reshape(b, n, c)

    def forward(self, x: torch.Tensor, hw: Hw) -> torch.Tensor:
        b, n, c = x.shape
        q, v = self.qv(x).chunk(2, dim=-1)
        local = self.dwconv(self.act(v.transpose(1, 2).reshape(b, c, *hw)))
        half = c // 2
        attn = torch.cat(
            [
                self._stripes(q[..., :half], v[..., :half], hw, vertical=False),
                self._stripes(q[..., half:], v[..., half:], hw, vertical=True),
            ],
            dim=-1,
        )
        attn = attn + local.flatten(2).transpose(1, 2)
        return self.norm(self.proj(self.act(attn)))


@lru_cache(maxsize=4096)
def cross_shaped_attention_cost(dim: int, head_dim: int, window_size: int, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`CrossShapedAttention` on an ``hw`` grid (padded stripes included)."""
    h, w = hw
    n = h * w
    heads, width = stripe_heads(dim, head_dim)
    ws = window_size
    rows, cols = -(-h // ws), -(-w // ws)  # stripes per direction, after padding
    own = P.attention(heads * rows, ws * w, ws * w, width) + P.attention(
        heads * cols, ws * h, ws * h, width
    )
    children = [
        ("qv", CostNode.leaf(P.linear(dim, 2 * dim, n))),
        ("dwconv", CostNode.leaf(P.conv2d(dim, dim, 3, hw, groups=dim, bias=True))),
        ("proj", CostNode.leaf(P.linear(dim, dim, n))),
        ("norm", CostNode.leaf(P.batch_norm(dim, dim * n))),
    ]
    return CostNode.of(children, own=own, out_shape=(n, dim))
