"""The ``nn.Module`` half of :mod:`hirisearch.models.hiri_vit` (imported only when a model is built).

HIRI-ViT: a five-stage CNN+ViT hybrid for high-resolution inputs, reconstructed from the paper's
description (every open choice is a spec field):

- HR-stem (``stem_type: hr``): conv3x3/s2 + norm + act, then two parallel branches summed: a
  high-resolution branch (depth-wise 3x3/s2 + norm, 1x1 + norm) and a low-resolution branch with more
  convolutions (3x3/s2 + norm + act, then ``stem_lr_convs - 1`` 3x3 convs). ``stem_type: conv`` is the
  Wave-ViT conv stem (7x7/s2, two 3x3, 3x3/s2 projection, LayerNorm) for comparison.
- HR-block (``block_types[i]: hr``): ``y = x + HR(x) + Up(LR(x))``, HR = depth-wise 3x3 + norm on the
  full-resolution map, LR = depth-wise 3x3/s2 + norm, 1x1 + norm + act, depth-wise 3x3 + norm,
  1x1 + norm on the half-resolution map, bilinear up-sampling; then ``out = y + CFFN(y)``.
  ``hr_cffn: low_res`` instead puts the expanded CFFN inside the low-resolution branch only.
- IRDS between stages (``downsample: irds_a | irds_b``): 1x1 expand + norm + act, depth-wise 3x3/s2 +
  norm + act, 1x1 project + norm; variant b adds an avg-pool + 1x1 + norm shortcut.
- Transformer stages: pre-norm blocks, SDPA attention with optional key/value spatial reduction
  (``sr_ratios``), FFN with a depth-wise 3x3 conv (no position embedding).
- Head: global average pool + norm + linear (``head: avg``), or a class-attention block
  (``head: class_attn``), as in the authors' Wave-ViT / Dual-ViT.
- BN in convolutional parts (``conv_norm``), LN in token parts (``token_norm``).
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.hr_block_nn import HRBlock
from hirisearch.layers.init import init_weights
from hirisearch.layers.irds_nn import IRDS
from hirisearch.layers.norm_act_nn import make_norm
from hirisearch.layers.transformer_nn import ClassBlock, TransformerBlock
from hirisearch.models.hiri_vit import (
    HeadPlan,
    HiriViTPlan,
    StagePlan,
    StemPlan,
)


class HRStem(nn.Module):
    """HR-stem: ``x = conv(x); out = HR(x) + LR(x)`` at stride 4."""

    def __init__(self, p: StemPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        cm, c = p.stem_chs, p.out_chs
        self.conv = ConvNormAct(p.in_chans, cm, 3, 2, norm=p.norm, act=p.act, **dd)
        self.hr = nn.Sequential(
            ConvNormAct(cm, cm, 3, 2, groups=cm, norm=p.norm, **dd),
            ConvNormAct(cm, c, 1, norm=p.norm, **dd),
        )
        lr = [ConvNormAct(cm, c, 3, 2, norm=p.norm, act=p.act if p.lr_convs > 1 else None, **dd)]
        for j in range(1, p.lr_convs):
            last = j == p.lr_convs - 1
            lr.append(ConvNormAct(c, c, 3, norm=p.norm, act=None if last else p.act, **dd))
        self.lr = nn.Sequential(*lr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.hr(x) + self.lr(x)


class ConvStem(nn.Module):
    """The Wave-ViT / Dual-ViT conv stem: 7x7/s2, two 3x3, 3x3/s2 projection, LayerNorm."""

    def __init__(self, p: StemPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        cm = p.stem_chs
        self.conv = nn.Sequential(
            ConvNormAct(p.in_chans, cm, 7, 2, norm=p.norm, act=p.act, **dd),
            ConvNormAct(cm, cm, 3, norm=p.norm, act=p.act, **dd),
            ConvNormAct(cm, cm, 3, norm=p.norm, act=p.act, **dd),
        )
        self.proj = nn.Conv2d(cm, p.out_chs, 3, 2, 1, **dd)
        self.norm = make_norm(p.token_norm, p.out_chs, "map", **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(self.conv(x)))


class HiriViTStage(nn.Module):
    """Optional IRDS, then ``depth`` HR-blocks (on the map) or Transformer blocks (on tokens)."""

    def __init__(self, p: StagePlan, plan: HiriViTPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.hw = p.hw
        self.is_tokens = p.block_type == "transformer"
        d = p.downsample
        self.downsample: nn.Module = nn.Identity()
        if d is not None:
            self.downsample = IRDS(
                d.in_chs,
                d.out_chs,
                hidden=d.hidden,
                variant=d.variant,
                norm=d.norm,
                act=d.act,
                **dd,
            )
        if self.is_tokens:
            blocks: list[nn.Module] = [
                TransformerBlock(
                    p.dim,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    sr_ratio=p.sr_ratio,
                    qkv_bias=plan.qkv_bias,
                    norm=plan.token_norm,
                    act=plan.act,
                    drop_path=dp,
                    **dd,
                )
                for num_heads, mlp_ratio, dp in zip(
                    p.num_heads, p.mlp_ratios, p.drop_path, strict=True
                )
            ]
        else:
            blocks = [
                HRBlock(
                    p.dim,
                    mlp_ratio=mlp_ratio,
                    cffn=plan.hr_cffn,
                    norm=plan.conv_norm,
                    act=plan.act,
                    drop_path=dp,
                    **dd,
                )
                for mlp_ratio, dp in zip(p.mlp_ratios, p.drop_path, strict=True)
            ]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if not self.is_tokens:
            for blk in self.blocks:
                x = blk(x)
            return x
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        for blk in self.blocks:
            t = blk(t, (h, w))
        return t.transpose(1, 2).reshape(b, c, h, w)


class HiriViTHead(nn.Module):
    """``avg``: mean over the map, norm, linear. ``class_attn``: a class token attends over all
    tokens in one class-attention block, then norm and linear."""

    def __init__(self, p: HeadPlan, plan: HiriViTPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.class_attn = p.head_type == "class_attn"
        if self.class_attn:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, p.dim, **dd))
            self.block = ClassBlock(
                p.dim,
                p.num_heads,
                mlp_ratio=p.mlp_ratio,
                qkv_bias=plan.qkv_bias,
                norm=plan.token_norm,
                act=plan.act,
                **dd,
            )
        self.norm = make_norm(plan.token_norm, p.dim, "tokens", **dd)
        self.fc = nn.Linear(p.dim, p.num_classes, **dd) if p.num_classes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.class_attn:
            t = x.flatten(2).transpose(1, 2)
            x = self.block(torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], dim=1))
        else:
            x = x.mean((2, 3))[:, None]
        return self.fc(self.norm(x))[:, 0]


class HiriViT(nn.Module):
    """HIRI-ViT built from a :class:`HiriViTPlan`."""

    def __init__(self, plan: HiriViTPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.plan = plan
        self.stem = (
            HRStem(plan.stem, **dd) if plan.stem.stem_type == "hr" else ConvStem(plan.stem, **dd)
        )
        self.stages = nn.ModuleList(HiriViTStage(s, plan, **dd) for s in plan.stages)
        if plan.outputs == "pyramid":  # the dense form: per-output norms, no head
            for name, i in zip(plan.out_norms, plan.out_indices, strict=False):
                dim = plan.stages[i].dim
                self.add_module(name, make_norm(plan.out_norm, dim, "map", **dd))  # type: ignore[arg-type]
        else:
            self.head = HiriViTHead(plan.head, plan, **dd)
        if torch.device(device or torch.get_default_device()).type != "meta":
            # Meta tensors hold no values; initialising them only costs time (most of a meta build).
            self.apply(init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # NHWC throughout: convolutions run on their channels-last kernels, and the map <-> token
        # reshapes of the Transformer stages and of the FFN's depth-wise conv become free views
        # instead of copies. Layout only; the arithmetic is unchanged.
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.plan.outputs == "pyramid":
            return self.forward_pyramid(x)
        return self.head(self.forward_features(x))

    def forward_pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The dense form: the maps of stages ``out_indices`` through their norms, finest first."""
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        outs, norms = [], dict(zip(self.plan.out_indices, self.plan.out_norms, strict=False))
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.plan.out_indices:
                outs.append(getattr(self, norms[i])(x) if i in norms else x)
        return outs


def build_hiri_vit(plan: HiriViTPlan, *, device=None, dtype=None) -> HiriViT:
    """Build the model described by ``plan``."""
    return HiriViT(plan, device=device, dtype=dtype)
