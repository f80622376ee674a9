"""The ``nn.Module`` half of :mod:`hirisearch.layers.transformer` (imported only when a model is built).

Pre-norm Transformer block on a token grid: ``x += attn(norm1(x)); x += mlp(norm2(x))``.
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.attention_nn import Attention, ClassAttention
from hirisearch.layers.drop_path_nn import DropPath
from hirisearch.layers.mlp_nn import Mlp
from hirisearch.layers.norm_act import ActKind, NormKind
from hirisearch.layers.norm_act_nn import make_norm


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
