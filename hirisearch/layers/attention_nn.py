"""The ``nn.Module`` half of :mod:`hirisearch.layers.attention` (imported only when a model is built).

Multi-head self-attention with optional key/value spatial reduction (PVT style), and class
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.norm_act import NormKind
from hirisearch.layers.norm_act_nn import make_norm


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
        num_heads, hd = self.num_heads, c // self.num_heads
        q = self.q(x).reshape(b, n, num_heads, hd).transpose(1, 2)
        if self.sr_ratio > 1:
            grid = x.transpose(1, 2).reshape(b, c, hw[0], hw[1])
            x = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
        k, v = self.kv(x).reshape(b, -1, 2, num_heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


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
        num_heads, hd = self.num_heads, c // self.num_heads
        q = self.q(x[:, :1]).reshape(b, 1, num_heads, hd).transpose(1, 2)
        k, v = self.kv(x).reshape(b, n, 2, num_heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, 1, c))
