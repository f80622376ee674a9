"""The ``nn.Module`` half of :mod:`hirisearch.models.vit` (imported only when a model is built).

Plain Vision Transformer (ViT) and DeiT: global attention on a single token grid; windowed
attention (ViTDet) and InternViT-6B's block form with hirisearch's own blocks.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from hirisearch.layers.vit import LN_EPS, Hw
from hirisearch.layers.vit_nn import ViTBlock
from hirisearch.models.base_nn import TimmFromPlan
from hirisearch.models.vit import (
    ViTPlan,
)


class GridBlock(ViTBlock):
    """A :class:`~hirisearch.layers.vit_nn.ViTBlock` that knows its token grid, so that timm's
    ``blocks`` sequence can call it with the tokens alone."""

    def __init__(self, *args, hw: Hw, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hw = hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, self.hw)


class ViT(TimmFromPlan, VisionTransformer):
    """timm's ``VisionTransformer``, padding the image to a multiple of the patch when planned;
    with windows, RMSNorm or QK-norm its blocks are :class:`GridBlock`\\ s."""

    def __init__(self, plan: ViTPlan, *, device=None, dtype=None) -> None:
        norm_layer = (
            partial(nn.RMSNorm, eps=LN_EPS)
            if plan.norm == "rms"
            else partial(nn.LayerNorm, eps=LN_EPS)
        )
        super().__init__(
            plan,
            device=device,
            dtype=dtype,
            global_pool=plan.global_pool,
            depth=0 if plan.own_blocks else plan.depth,
            num_heads=plan.num_heads,
            class_token=plan.class_token,
            init_values=plan.layer_scale,
            norm_layer=norm_layer,
            final_norm=plan.outputs != "pyramid",
        )
        self.grid = plan.hw if plan.outputs == "pyramid" else None
        if plan.own_blocks:
            self.blocks = nn.Sequential(
                *(
                    GridBlock(
                        plan.embed_dim,
                        heads,
                        mlp_ratio=ratio,
                        window_size=ws,
                        qkv_bias=plan.qkv_bias,
                        layer_scale=plan.layer_scale,
                        qk_norm=plan.qk_norm,
                        norm=plan.norm,
                        hw=plan.hw,
                        device=device,
                        dtype=dtype,
                    )
                    for ws, (heads, ratio) in zip(plan.windows, plan.blocks, strict=True)
                )
            )
            return
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

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, *args: Any, **kwargs: Any
    ) -> torch.Tensor | list[torch.Tensor]:
        if self.grid is None:
            return super().forward(x, *args, **kwargs)
        # the dense form: the grid tokens of the last block as one (B, C, H, W) map
        t = self.forward_features(x)[:, self.num_prefix_tokens :]
        return [t.transpose(1, 2).reshape(t.shape[0], -1, *self.grid)]


def build_vit(plan: ViTPlan, *, device=None, dtype=None) -> nn.Module:
    """Build the model described by ``plan``."""
    return ViT(plan, device=device, dtype=dtype)
