"""ResFormer: a DeiT with a resolution-agnostic global-local positional embedding (GLPE).

R. Tian et al., "ResFormer: Scaling ViTs with Multi-Resolution Training", CVPR 2023
(arXiv 2212.00776; ruitian12/resformer). RECONSTRUCTED from the paper's description, not copied:

- global: the 2D sine-cosine embedding of the current token grid (MAE layout: sin/cos of the column,
  then of the row, ``embed_dim / 4`` frequencies each) passed through a depth-wise 3x3 conv, added
  once to the patch tokens after the patch embedding (the class token gets none);
- local: inside every attention layer a depth-wise 3x3 conv on V (the grid tokens, one conv over the
  ``head_dim`` channels shared by all heads) is added to ``softmax(Q K^T) V``.
Both are computed for whatever grid arrives, so the model has no resolution-bound parameter. The
multi-resolution training and its scale-consistency loss cost nothing at inference and are not
modelled. The global embedding is computed once per forward pass (it does not depend on the image),
so its small conv cost is per pass, not per sample (0.7 MMACs for ResFormer-S at 224).

Check: ResFormer-S at 224 has 21.99M params and 4.62 GFLOPs (fvcore on the official code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import model_validator
from timm.layers import DropPath, trunc_normal_
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.errors import FieldError
from hirisearch.layers.mlp import Mlp, mlp_cost
from hirisearch.models.base import Family
from hirisearch.models.resolution import check_resolution
from hirisearch.models.vit import PlainViTFields, patch_reason

Hw = tuple[int, int]


# ----------------------------------------------------------------------------------------- spec
class ResFormerSpec(PlainViTFields):
    """A ResFormer configuration (DeiT widths, patch 16, class token)."""

    family: Literal["resformer"]

    @model_validator(mode="after")
    def _check(self) -> ResFormerSpec:
        if self.embed_dim % self.num_heads:
            raise FieldError(
                "num_heads",
                f"`embed_dim % num_heads == 0` must hold, but got embed_dim={self.embed_dim}, "
                f"num_heads={self.num_heads}",
            )
        if self.embed_dim % 4:
            raise FieldError(
                "embed_dim",
                f"the 2D sine-cosine embedding needs `embed_dim % 4 == 0`, but got {self.embed_dim}",
            )
        return self


# ----------------------------------------------------------------------------------------- plan
@dataclass(frozen=True, slots=True)
class ResFormerPlan:
    name: str
    family: str
    img_size: int
    in_chans: int
    num_classes: int
    patch_size: int
    padded_img: int
    grid: Hw
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    qkv_bias: bool
    drop_path: tuple[float, ...]

    @property
    def tokens(self) -> int:
        return self.grid[0] * self.grid[1] + 1

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, self.img_size, self.img_size)

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        return (
            ("stem", "patch_embed"),
            ("global pe", "gpe"),
            ("blocks", "blocks"),
            ("norm", "norm"),
            ("head", "head"),
        )

    @property
    def out_grid(self) -> Hw:
        return self.grid


def plan_resformer(spec: ResFormerSpec, img_size: int | None = None) -> ResFormerPlan:
    """Derive the token grid at ``img_size`` (default: the spec's)."""
    size = spec.img_size if img_size is None else img_size
    check_resolution(
        patch_reason(spec.patch_size, spec.pad),
        size,
        model=f"ResFormer ({spec.name})",
        step=spec.patch_size,
    )
    padded = -(-size // spec.patch_size) * spec.patch_size
    g = padded // spec.patch_size
    rates = tuple(spec.drop_path_rate * i / max(spec.depth - 1, 1) for i in range(spec.depth))
    return ResFormerPlan(
        name=spec.name,
        family="resformer",
        img_size=size,
        in_chans=spec.in_chans,
        num_classes=spec.num_classes,
        patch_size=spec.patch_size,
        padded_img=padded,
        grid=(g, g),
        embed_dim=spec.embed_dim,
        depth=spec.depth,
        num_heads=spec.num_heads,
        mlp_ratio=spec.mlp_ratio,
        qkv_bias=spec.qkv_bias,
        drop_path=rates,
    )


# --------------------------------------------------------------------------------------- layers
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
        heads, hd = self.num_heads, c // self.num_heads
        q, k, v = self.qkv(x).reshape(b, n, 3, heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)  # (b, heads, n, hd)
        grid = v[:, :, 1:].transpose(-1, -2).reshape(b * heads, hd, hw[0], hw[1])
        local = self.lpe(grid).reshape(b, heads, hd, n - 1).transpose(-1, -2)
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
        self.image_pad = plan.padded_img - plan.img_size
        self.patch_embed = nn.Conv2d(plan.in_chans, d, p, p, **dd)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d, **dd))
        self.gpe = GlobalPosEmbed(d, **dd)
        self.blocks = nn.ModuleList(ResFormerBlock(plan, r, **dd) for r in plan.drop_path)
        self.norm = nn.LayerNorm(d, eps=1e-6, **dd)
        self.head = nn.Linear(d, plan.num_classes, **dd) if plan.num_classes else nn.Identity()
        trunc_normal_(self.cls_token, std=0.02)
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.image_pad:
            x = F.pad(x, (0, self.image_pad, 0, self.image_pad))
        x = self.patch_embed(x)
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2) + self.gpe(hw, device=x.device, dtype=x.dtype)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        for block in self.blocks:
            x = block(x, hw)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x)[:, 0])


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


# ----------------------------------------------------------------------------------------- cost
def cost_resformer(plan: ResFormerPlan) -> CostNode:
    """Analytic cost of the model described by ``plan``, keyed by the builder's module paths."""
    d, n, grid, heads = plan.embed_dim, plan.tokens, plan.grid, plan.num_heads
    hd = d // heads
    stem = CostNode.leaf(P.conv2d(plan.in_chans, d, plan.patch_size, grid, bias=True), (d, *grid))
    gpe_proj = CostNode.leaf(P.conv2d(d, d, 3, grid, groups=d, bias=True), (d, *grid))
    gpe = CostNode.of([("proj", gpe_proj)], out_shape=(grid[0] * grid[1], d))
    # the local PE conv runs once per head on the grid tokens, with one shared weight
    lpe = P.conv2d(hd, hd, 3, grid, groups=hd, bias=True).scaled(heads)
    attn = CostNode.of(
        [
            ("qkv", CostNode.leaf(P.linear(d, 3 * d, n, bias=plan.qkv_bias))),
            ("lpe", CostNode.leaf(lpe)),
            ("proj", CostNode.leaf(P.linear(d, d, n))),
        ],
        own=P.attention(heads, n, n, hd),
        out_shape=(n, d),
    )
    ln = CostNode.leaf(P.layer_norm(d, d * n))
    block = CostNode.of(
        [
            ("norm1", ln),
            ("attn", attn),
            ("norm2", ln),
            ("mlp", mlp_cost(d, int(d * plan.mlp_ratio), dw_conv=False, hw=(n, 1))),
        ]
    )
    blocks = CostNode.of([(str(i), block) for i in range(plan.depth)], out_shape=(n, d))
    children = [
        ("patch_embed", stem),
        ("gpe", gpe),
        ("blocks", blocks),
        ("norm", CostNode.leaf(P.layer_norm(d, d * n), (n, d))),
    ]
    if plan.num_classes:
        children.append(
            ("head", CostNode.leaf(P.linear(d, plan.num_classes, 1), (plan.num_classes,)))
        )
    return CostNode.of(children, own=P.param_only(d))  # the class token


def latency_specs() -> tuple[ResFormerSpec, ...]:
    """Small configurations whose whole networks calibrate the latency predictor (shallow, at the
    widths and input sizes searches use): ``Family.latency_specs``."""
    return (
        ResFormerSpec.model_validate(
            dict(
                family="resformer",
                name="cal-224",
                img_size=224,
                embed_dim=384,
                depth=2,
                num_heads=6,
            )
        ),
        ResFormerSpec.model_validate(
            dict(
                family="resformer",
                name="cal-320",
                img_size=320,
                embed_dim=192,
                depth=2,
                num_heads=3,
            )
        ),
        ResFormerSpec.model_validate(
            dict(
                family="resformer",
                name="cal-448",
                img_size=448,
                embed_dim=256,
                depth=1,
                num_heads=4,
            )
        ),
        ResFormerSpec.model_validate(
            dict(
                family="resformer",
                name="cal-512",
                img_size=512,
                embed_dim=384,
                depth=1,
                num_heads=6,
            )
        ),
        ResFormerSpec.model_validate(
            dict(
                family="resformer",
                name="cal-384",
                img_size=384,
                embed_dim=768,
                depth=1,
                num_heads=12,
            )
        ),
    )


FAMILY = Family(
    name="resformer",
    title="ResFormer",
    spec_type=ResFormerSpec,
    plan=plan_resformer,
    build=build_resformer,
    cost=cost_resformer,
    test_sizes=lambda spec: (spec.img_size, 384),
    forward_size=lambda spec: 2 * spec.patch_size,
    latency_specs=latency_specs,
)
