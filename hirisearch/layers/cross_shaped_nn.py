"""The ``nn.Module`` half of :mod:`hirisearch.layers.cross_shaped` (imported only when a model is built).

Cross-shaped window self-attention with a shared key/value projection (HRViT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.cross_shaped import (
    Hw,
    stripe_heads,
)
from hirisearch.layers.norm_act_nn import TokenBatchNorm


class CrossShapedAttention(nn.Module):
    """Cross-shaped window attention on tokens (B, N, C) laid out on an ``hw`` grid."""

    def __init__(
        self, dim: int, head_dim: int, window_size: int, *, device=None, dtype=None
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.window_size = window_size
        self.num_heads, self.head_width = stripe_heads(dim, head_dim)
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
            return t.reshape(b, stripes, tokens, self.num_heads, self.head_width).transpose(2, 3)

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
