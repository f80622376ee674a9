"""The ``nn.Module`` half of :mod:`hirisearch.layers.irds` (imported only when a model is built).

Inverted Residual Downsampling, HIRI-ViT's stride-2 block between stages.
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.norm_act import ActKind, NormKind


class IRDS(nn.Module):
    """Inverted Residual Downsampling (stride 2); variant ``irds_b`` adds a pooled shortcut."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        hidden: int,
        variant: str = "irds_b",
        norm: NormKind = "bn",
        act: ActKind = "gelu",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        h = hidden
        self.conv1 = ConvNormAct(in_chs, h, 1, norm=norm, act=act, **dd)
        self.conv2 = ConvNormAct(h, h, 3, 2, groups=h, norm=norm, act=act, **dd)
        self.conv3 = ConvNormAct(h, out_chs, 1, norm=norm, **dd)
        self.shortcut = (
            nn.Sequential(
                nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
                ConvNormAct(in_chs, out_chs, 1, norm=norm, **dd),
            )
            if variant == "irds_b"
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out
