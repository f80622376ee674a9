"""The ``nn.Module`` half of :mod:`hirisearch.tasks.upernet` (imported only when a model is
built)."""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.upernet_nn import FCNHead, UPerHead
from hirisearch.tasks.upernet import UperNetPlan


class UperNet(nn.Module):
    """``decode`` on the pyramid; ``auxiliary`` runs in training mode only (mmseg trains it; at
    test it is held for its params), so a training step returns both heads' logits."""

    def __init__(self, plan: UperNetPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.decode = UPerHead(
            plan.in_chs,
            channels=plan.channels,
            pool_scales=plan.pool_scales,
            num_classes=plan.num_classes,
            **dd,
        )
        self.aux_level = plan.aux_level
        if plan.aux is not None:
            self.auxiliary = FCNHead(
                plan.aux[0], channels=plan.aux_channels, num_classes=plan.num_classes, **dd
            )

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, ...]:
        out = self.decode(feats)
        if self.training and hasattr(self, "auxiliary"):
            return out, self.auxiliary(feats[self.aux_level])
        return out


def build_upernet(plan: UperNetPlan, *, device=None, dtype=None) -> UperNet:
    """Build the head described by ``plan``."""
    return UperNet(plan, device=device, dtype=dtype)
