"""The ``nn.Module`` half of :mod:`hirisearch.layers.vit` (imported only when a model is built).

Plain-ViT parts: patch embedding, global or windowed multi-head self-attention, and the pre-norm
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.mlp_nn import Mlp
from hirisearch.layers.vit import (
    LN_EPS,
    Hw,
    padded,
)


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` x ``patch_size`` convolution, output as tokens (B, N, C)."""

    def __init__(
        self, in_chans: int, dim: int, patch_size: int = 16, *, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch_size, patch_size, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class ViTAttention(nn.Module):
    """Multi-head self-attention, global (``window_size == 0``) or inside windows."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        window_size: int = 0,
        qkv_bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.window_size = window_size
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias, **dd)
        self.proj = nn.Linear(dim, dim, **dd)

    def forward(self, x: torch.Tensor, hw: Hw) -> torch.Tensor:
        b, n, c = x.shape
        num_heads, hd = self.num_heads, c // self.num_heads
        qkv = self.qkv(x)
        if not self.window_size:
            q, k, v = qkv.reshape(b, n, 3, num_heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
            out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c)
            return self.proj(out)
        ws = self.window_size
        h, w = hw
        hp, wp = padded(h, ws), padded(w, ws)
        grid = F.pad(qkv.view(b, h, w, 3 * c), (0, 0, 0, wp - w, 0, hp - h))
        win = grid.view(b, hp // ws, ws, wp // ws, ws, 3 * c).permute(0, 1, 3, 2, 4, 5)
        win = win.reshape(-1, ws * ws, 3, num_heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = win.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)  # (B*nW, num_heads, ws*ws, hd)
        out = out.transpose(1, 2).reshape(b, hp // ws, wp // ws, ws, ws, c)
        out = out.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)[:, :h, :w]
        return self.proj(out.reshape(b, n, c))


class ViTBlock(nn.Module):
    """``x += g1 * attn(norm1(x)); x += g2 * mlp(norm2(x))``; ``g1``/``g2`` are layer-scale vectors
    initialised to ``layer_scale`` (absent when it is ``None``)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        window_size: int = 0,
        qkv_bias: bool = True,
        layer_scale: float | None = 1.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.attn = ViTAttention(dim, num_heads, window_size=window_size, qkv_bias=qkv_bias, **dd)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS, **dd)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dw_conv=False, **dd)
        self.gamma_1: nn.Parameter | None
        self.gamma_2: nn.Parameter | None
        if layer_scale is not None:
            self.gamma_1 = nn.Parameter(torch.full((dim,), float(layer_scale), **dd))
            self.gamma_2 = nn.Parameter(torch.full((dim,), float(layer_scale), **dd))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, x: torch.Tensor, hw: Hw) -> torch.Tensor:
        a = self.attn(self.norm1(x), hw)
        x = x + (a if self.gamma_1 is None else self.gamma_1 * a)
        m = self.mlp(self.norm2(x), (1, x.shape[1]))
        return x + (m if self.gamma_2 is None else self.gamma_2 * m)
