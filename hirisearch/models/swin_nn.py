"""The ``nn.Module`` half of :mod:`hirisearch.models.swin` (imported only when a model is built).

Swin Transformer: hierarchical ViT with shifted-window attention.
"""

from __future__ import annotations

from timm.models.swin_transformer import SwinTransformer
from torch import nn

from hirisearch.models.base_nn import TimmFromPlan
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


def build_swin(plan: SwinPlan, *, device=None, dtype=None) -> nn.Module:
    """Build the model described by ``plan``."""
    return Swin(plan, device=device, dtype=dtype)
