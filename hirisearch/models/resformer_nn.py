"""The ``nn.Module`` half of :mod:`hirisearch.models.resformer` (imported only when a model is built).

ResFormer: a DeiT with a resolution-agnostic global-local positional embedding (GLPE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import trunc_normal_

from hirisearch.layers.drop_path_nn import DropPath
from hirisearch.layers.mlp_nn import Mlp
from hirisearch.models.base_nn import pad_image
from hirisearch.models.resformer import (
    Hw,
    ResFormerPlan,
)


def sincos_2d(hw: Hw, dim: int, *, device=None, dtype=None) -> torch.Tensor:
    """The 2D sine-cosine embedding of an ``hw`` grid as a (1, dim, H, W) map.

    Broadcast products only (no matmul), so the counters see no work here.
    """
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    ys = torch.arange(hw[0], device=device, dtype=torch.float32)[:, None] * omega  # (H, q)
    xs = torch.arange(hw[1], device=device, dtype=torch.float32)[:, None] * omega  # (W, q)
    h, w = hw
    emb = torch.cat(
        [
            xs.sin()[None].expand(h, w, quarter),
            xs.cos()[None].expand(h, w, quarter),
            ys.sin()[:, None].expand(h, w, quarter),
            ys.cos()[:, None].expand(h, w, quarter),
        ],
        dim=-1,
    )
    return emb.permute(2, 0, 1).unsqueeze(0).to(dtype or torch.float32)


class GlobalPosEmbed(nn.Module):
    """Global PE: a depth-wise 3x3 conv of the sine-cosine embedding of the grid, (1, H*W, dim)."""

    def __init__(self, dim: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.dim = dim
        self.proj = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim, device=device, dtype=dtype)

    def forward(self, hw: Hw, *, device=None, dtype=None) -> torch.Tensor:
        pe = self.proj(sincos_2d(hw, self.dim, device=device, dtype=dtype))
        return pe.flatten(2).transpose(1, 2)


class GLAttention(nn.Module):
    """Global attention plus the local PE: ``softmax(Q K^T / sqrt(d)) V + DWConv3x3(V)``.

    The depth-wise conv runs over the ``head_dim`` channels of V on the token grid, shared by all
    heads; the class token (first) gets no local term.
    """

    def __init__(
        self, dim: int, num_heads: int, *, qkv_bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        hd = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias, **dd)
        self.lpe = nn.Conv2d(hd, hd, 3, 1, 1, groups=hd, **dd)
        self.proj = nn.Linear(dim, dim, **dd)

    def forward(self, x: torch.Tensor, hw: Hw) -> torch.Tensor:
        b, n, c = x.shape
        num_heads, hd = self.num_heads, c // self.num_heads
        q, k, v = self.qkv(x).reshape(b, n, 3, num_heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)  # (b, num_heads, n, hd)
        grid = v[:, :, 1:].transpose(-1, -2).reshape(b * num_heads, hd, hw[0], hw[1])
        local = self.lpe(grid).reshape(b, num_heads, hd, n - 1).transpose(-1, -2)
        out = torch.cat([out[:, :, :1], out[:, :, 1:] + local], dim=2)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class ResFormerBlock(nn.Module):
    """Pre-norm block: ``x += attn(norm1(x)); x += mlp(norm2(x))``."""

    def __init__(self, plan: ResFormerPlan, drop_path: float, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        d = plan.embed_dim
        self.norm1 = nn.LayerNorm(d, eps=1e-6, **dd)
        self.attn = GLAttention(d, plan.num_heads, qkv_bias=plan.qkv_bias, **dd)
        self.norm2 = nn.LayerNorm(d, eps=1e-6, **dd)
        self.mlp = Mlp(d, int(d * plan.mlp_ratio), dw_conv=False, **dd)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, hw: Hw) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))


class ResFormer(nn.Module):
    """Patch embedding + global PE, class token, ``depth`` GLPE blocks, norm, class-token head."""

    def __init__(self, plan: ResFormerPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        d, p = plan.embed_dim, plan.patch_size
        # zero rows below and columns to the right, up to a multiple of the patch on each axis
        (ph, pw), (h, w) = plan.padded_img, plan.img_size
        self.image_pad = (ph - h, pw - w)
        self.grid = plan.hw
        self.patch_embed = nn.Conv2d(plan.in_chans, d, p, p, **dd)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d, **dd))
        self.gpe = GlobalPosEmbed(d, **dd)
        self.blocks = nn.ModuleList(ResFormerBlock(plan, r, **dd) for r in plan.drop_path)
        self.dense = plan.outputs == "pyramid"  # the dense form: no final norm
        self.norm = nn.Identity() if self.dense else nn.LayerNorm(d, eps=1e-6, **dd)
        self.head = nn.Linear(d, plan.num_classes, **dd) if plan.num_classes else nn.Identity()
        trunc_normal_(self.cls_token, std=0.02)
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pad_image(x, self.image_pad))
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2) + self.gpe(hw, device=x.device, dtype=x.dtype)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        for block in self.blocks:
            x = block(x, hw)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if not self.dense:
            return self.head(self.forward_features(x)[:, 0])
        t = self.forward_features(x)[:, 1:]  # the grid tokens as one (B, C, H, W) map
        h, w = self.grid
        return [t.transpose(1, 2).reshape(t.shape[0], -1, h, w)]


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def build_resformer(plan: ResFormerPlan, *, device=None, dtype=None) -> ResFormer:
    """Build the model described by ``plan``."""
    return ResFormer(plan, device=device, dtype=dtype)
