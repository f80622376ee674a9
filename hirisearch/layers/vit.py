"""Plain-ViT parts: patch embedding, global or windowed multi-head self-attention, and the pre-norm
block with optional layer scale (DeiT / CaiT ``Layer_scale_init_Block`` form).

Windowed attention follows ViTDet / PIIP: queries, keys and values are computed on the H x W tokens,
the q/k/v map is zero-padded up to a multiple of the window, attention runs inside each
``window_size`` x ``window_size`` window (padded positions included, unmasked, as upstream does),
then the map is cropped back. A class token is only possible with global attention.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.mlp import Mlp, mlp_cost

Hw = tuple[int, int]
LN_EPS = 1e-6


def padded(size: int, window: int) -> int:
    """``size`` rounded up to a multiple of ``window``."""
    return -(-size // window) * window


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` x ``patch_size`` convolution, output as tokens (B, N, C)."""

    def __init__(
        self, in_chans: int, dim: int, patch_size: int = 16, *, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch_size, patch_size, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


@lru_cache(maxsize=256)
def patch_embed_cost(in_chans: int, dim: int, patch_size: int = 16, *, grid: Hw) -> CostNode:
    """Cost twin of :class:`PatchEmbed` producing a ``grid`` of tokens."""
    conv = P.conv2d(in_chans, dim, patch_size, grid, bias=True)
    return CostNode.of([("proj", CostNode.leaf(conv))], out_shape=(grid[0] * grid[1], dim))


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
        heads = self.num_heads
        qkv = self.qkv(x)
        if not self.window_size:
            q, k, v = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4).unbind(0)
            out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c)
            return self.proj(out)
        ws = self.window_size
        h, w = hw
        hp, wp = padded(h, ws), padded(w, ws)
        grid = F.pad(qkv.view(b, h, w, 3 * c), (0, 0, 0, wp - w, 0, hp - h))
        win = grid.view(b, hp // ws, ws, wp // ws, ws, 3 * c).permute(0, 1, 3, 2, 4, 5)
        win = win.reshape(-1, ws * ws, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = win.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)  # (B*nW, heads, ws*ws, hd)
        out = out.transpose(1, 2).reshape(b, hp // ws, wp // ws, ws, ws, c)
        out = out.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)[:, :h, :w]
        return self.proj(out.reshape(b, n, c))


@lru_cache(maxsize=1024)
def vit_attention_cost(
    dim: int, num_heads: int, *, window_size: int = 0, qkv_bias: bool = True, hw: Hw, tokens: int
) -> CostNode:
    """Cost twin of :class:`ViTAttention` on ``tokens`` tokens laid out as ``hw`` (``tokens`` is
    ``H*W`` plus one with a class token)."""
    children = [
        ("qkv", CostNode.leaf(P.linear(dim, 3 * dim, tokens, bias=qkv_bias))),
        ("proj", CostNode.leaf(P.linear(dim, dim, tokens))),
    ]
    hd = dim // num_heads
    if window_size:
        windows = (padded(hw[0], window_size) // window_size) * (
            padded(hw[1], window_size) // window_size
        )
        area = window_size * window_size
        own = P.attention(num_heads * windows, area, area, hd)
    else:
        own = P.attention(num_heads, tokens, tokens, hd)
    return CostNode.of(children, own=own, out_shape=(tokens, dim))


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


@lru_cache(maxsize=1024)
def vit_block_cost(
    dim: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    window_size: int = 0,
    qkv_bias: bool = True,
    layer_scale: float | None = 1.0,
    hw: Hw,
    tokens: int,
) -> CostNode:
    """Cost twin of :class:`ViTBlock` on ``tokens`` tokens laid out as ``hw``."""
    ln = CostNode.leaf(P.layer_norm(dim, dim * tokens))
    attn = vit_attention_cost(
        dim, num_heads, window_size=window_size, qkv_bias=qkv_bias, hw=hw, tokens=tokens
    )
    mlp = mlp_cost(dim, int(dim * mlp_ratio), dw_conv=False, hw=(1, tokens))
    own = P.param_only(2 * dim if layer_scale is not None else 0)
    return CostNode.of(
        [("norm1", ln), ("attn", attn), ("norm2", ln), ("mlp", mlp)],
        own=own,
        out_shape=(tokens, dim),
    )
