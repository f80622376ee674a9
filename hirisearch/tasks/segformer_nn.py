"""The ``nn.Module`` half of :mod:`hirisearch.tasks.segformer` (imported only when a model is
built)."""

from __future__ import annotations

from hirisearch.layers.segformer_head_nn import SegformerHead
from hirisearch.tasks.segformer import SegformerPlan


def build_segformer(plan: SegformerPlan, *, device=None, dtype=None) -> SegformerHead:
    """Build the head described by ``plan``."""
    return SegformerHead(
        plan.in_chs,
        channels=plan.channels,
        num_classes=plan.num_classes,
        mlp_norm=plan.mlp_norm,
        mlp_act=plan.mlp_act,
        device=device,
        dtype=dtype,
    )
