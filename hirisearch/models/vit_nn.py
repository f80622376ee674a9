"""The ``nn.Module`` half of :mod:`hirisearch.models.vit` (imported only when a model is built).

Plain Vision Transformer (ViT) and DeiT: global attention on a single token grid.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from hirisearch.models.base_nn import TimmFromPlan
from hirisearch.models.vit import (
    ViTPlan,
)


class ViT(TimmFromPlan, VisionTransformer):
    """timm's ``VisionTransformer``, padding the image to a multiple of the patch when planned."""

    def __init__(self, plan: ViTPlan, *, device=None, dtype=None) -> None:
        super().__init__(
            plan,
            device=device,
            dtype=dtype,
            global_pool=plan.global_pool,
            depth=plan.depth,
            num_heads=plan.num_heads,
            class_token=plan.class_token,
        )
        changed = False
        for blk, (heads, ratio) in zip(self.blocks, plan.blocks, strict=True):
            if (heads, ratio) != (plan.num_heads, plan.mlp_ratio):
                # timm takes one value for all blocks: a block of its own heads or FFN ratio
                # takes the attention and MLP of a block built with them
                ref = Block(plan.embed_dim, heads, mlp_ratio=ratio, qkv_bias=plan.qkv_bias,
                            device=device, dtype=dtype)  # fmt: skip
                blk.attn, blk.mlp, changed = ref.attn, ref.mlp, True
        if changed and torch.device(device or torch.get_default_device()).type != "meta":
            self.init_weights()


def build_vit(plan: ViTPlan, *, device=None, dtype=None) -> nn.Module:
    """Build the model described by ``plan``."""
    return ViT(plan, device=device, dtype=dtype)
