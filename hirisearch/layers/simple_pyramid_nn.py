"""The ``nn.Module`` half of :mod:`hirisearch.layers.simple_pyramid`."""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.simple_pyramid import GROUPS


class SimplePyramid(nn.Module):
    """Four maps from one: ``[fpn1(x), fpn2(x), x, fpn4(x)]`` at 4x, 2x, 1x and 1/2x the grid."""

    def __init__(self, dim: int, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(dim, dim, 2, 2, **dd),
            nn.GroupNorm(GROUPS, dim, **dd),
            nn.GELU(),
            nn.ConvTranspose2d(dim, dim, 2, 2, **dd),
        )
        self.fpn2 = nn.Sequential(nn.ConvTranspose2d(dim, dim, 2, 2, **dd))
        self.fpn3 = nn.Identity()
        self.fpn4 = nn.MaxPool2d(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.fpn1(x), self.fpn2(x), self.fpn3(x), self.fpn4(x)]
