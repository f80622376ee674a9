"""The ``nn.Module`` half of :mod:`hirisearch.models.swin` (imported only when a model is built).

Swin Transformer: hierarchical ViT with shifted-window attention.
"""

from __future__ import annotations

from timm.models.swin_transformer import SwinTransformer
from torch import nn

from hirisearch.layers.pad_nn import PadsImage
from hirisearch.models.swin import (
    SwinPlan,
)


class Swin(PadsImage, SwinTransformer):
    """timm's ``SwinTransformer``, padding the image to a multiple of the patch when planned."""

    def __init__(self, plan: SwinPlan, *, device=None, dtype=None) -> None:
        super().__init__(
            img_size=plan.padded_img,
            patch_size=plan.patch_size,
            in_chans=plan.in_chans,
            num_classes=plan.num_classes,
            embed_dim=plan.embed_dim,
            depths=tuple(s.depth for s in plan.stages),
            num_heads=tuple(s.num_heads for s in plan.stages),
            window_size=plan.window_size,
            mlp_ratio=plan.mlp_ratio,
            qkv_bias=plan.qkv_bias,
            drop_path_rate=plan.drop_path_rate,
            device=device,
            dtype=dtype,
        )
        self.image_pad = plan.padded_img - plan.img_size


def build_swin(plan: SwinPlan, *, device=None, dtype=None) -> nn.Module:
    """Build the model described by ``plan``."""
    return Swin(plan, device=device, dtype=dtype)
