"""Stochastic depth (drop path) for the families hirisearch builds itself.

timm's ``DropPath`` and torchvision's ``StochasticDepth`` do the same; importing either package
costs seconds (timm's layers load its whole model zoo), and the block is three lines of torch.
"""

from __future__ import annotations

import torch
from torch import nn


class DropPath(nn.Module):
    """Zero a whole residual branch per sample with probability ``drop_prob`` while training
    (Huang et al., "Deep Networks with Stochastic Depth"), scaling the kept ones by 1/(1-p)."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"
