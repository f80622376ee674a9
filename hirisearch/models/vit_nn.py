"""The ``nn.Module`` half of :mod:`hirisearch.models.vit` (imported only when a model is built).

Plain Vision Transformer (ViT) and DeiT: global attention on a single token grid.
"""

from __future__ import annotations

from timm.models.vision_transformer import VisionTransformer
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


def build_vit(plan: ViTPlan, *, device=None, dtype=None) -> nn.Module:
    """Build the model described by ``plan``."""
    return ViT(plan, device=device, dtype=dtype)
