"""The ``nn.Module`` half of :mod:`hirisearch.models.vit` (imported only when a model is built).

Plain Vision Transformer (ViT) and DeiT: global attention on a single token grid.
"""

from __future__ import annotations

from timm.models.vision_transformer import VisionTransformer
from torch import nn

from hirisearch.layers.pad_nn import PadsImage
from hirisearch.models.vit import (
    ViTPlan,
)


class ViT(PadsImage, VisionTransformer):
    """timm's ``VisionTransformer``, padding the image to a multiple of the patch when planned."""

    def __init__(self, plan: ViTPlan, *, device=None, dtype=None) -> None:
        super().__init__(
            img_size=plan.padded_img,
            patch_size=plan.patch_size,
            in_chans=plan.in_chans,
            num_classes=plan.num_classes,
            global_pool=plan.global_pool,
            embed_dim=plan.embed_dim,
            depth=plan.depth,
            num_heads=plan.num_heads,
            mlp_ratio=plan.mlp_ratio,
            qkv_bias=plan.qkv_bias,
            class_token=plan.class_token,
            drop_path_rate=plan.drop_path_rate,
            device=device,
            dtype=dtype,
        )
        self.image_pad = plan.padded_img - plan.img_size


def build_vit(plan: ViTPlan, *, device=None, dtype=None) -> nn.Module:
    """Build the model described by ``plan``."""
    return ViT(plan, device=device, dtype=dtype)
