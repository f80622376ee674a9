"""The ``nn.Module`` half of :mod:`hirisearch.models.swin` (imported only when a model is built).

Swin Transformer: hierarchical ViT with shifted-window attention.
"""

from __future__ import annotations

import torch
from timm.models.swin_transformer import SwinTransformer, SwinTransformerBlock
from torch import nn

from hirisearch.models.base_nn import TimmFromPlan, pad_image
from hirisearch.models.swin import (
    SwinPlan,
)


class Swin(TimmFromPlan, SwinTransformer):
    """timm's ``SwinTransformer``, padding the image to a multiple of the patch when planned."""

    def __init__(self, plan: SwinPlan, *, device=None, dtype=None) -> None:
        super().__init__(
            plan,
            device=device,
            dtype=dtype,
            depths=tuple(s.depth for s in plan.stages),
            num_heads=tuple(s.num_heads for s in plan.stages),
            window_size=plan.window_size,
        )
        dd = {"device": device, "dtype": dtype}
        changed = False
        for stage, s in zip(self.layers, plan.stages, strict=True):
            blocks = stage.get_submodule("blocks").children()
            for blk, (heads, ratio) in zip(blocks, s.blocks, strict=True):
                if (heads, ratio) == (s.num_heads, plan.mlp_ratio):
                    continue
                # timm takes one value per stage: a block of its own heads or FFN ratio takes the
                # attention and MLP of a block built with them
                ref = SwinTransformerBlock(
                    s.dim, s.hw, num_heads=heads, window_size=plan.window_size, mlp_ratio=ratio,
                    qkv_bias=plan.qkv_bias, **dd,
                )  # fmt: skip
                blk.attn, blk.mlp, changed = ref.attn, ref.mlp, True
        if changed and torch.device(device or torch.get_default_device()).type != "meta":
            self.init_weights()
        self.dense = plan.outputs == "pyramid"
        if self.dense:  # mmdet/mmseg's backbone: a LayerNorm per output, no final norm or head
            del self.norm, self.head
            for i, s in enumerate(plan.stages):
                self.add_module(f"norm{i}", nn.LayerNorm(s.dim, **dd))

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:  # type: ignore[override]
        if not self.dense:
            return super().forward(x)
        x = self.patch_embed(pad_image(x, self.image_pad))
        outs = []
        for i, stage in enumerate(self.layers):
            x = stage(x)  # (B, H, W, C)
            outs.append(self.get_submodule(f"norm{i}")(x).permute(0, 3, 1, 2).contiguous())
        return outs


def build_swin(plan: SwinPlan, *, device=None, dtype=None) -> nn.Module:
    """Build the model described by ``plan``."""
    return Swin(plan, device=device, dtype=dtype)
