"""The ``nn.Module`` half of :mod:`hirisearch.layers.fpn` (imported only when a model is built).

mmdetection's FPN neck and Panoptic FPN's semantic head (mmsegmentation's ``FPNHead``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.fpn import scale_head_depth
from hirisearch.layers.norm_act import MapNormKind


class FPN(nn.Module):
    """Lateral 1x1 convs, top-down nearest upsampling + add, 3x3 output convs; levels beyond
    the inputs (``num_outs``) max-pool the coarsest output (kernel 1, stride 2)."""

    def __init__(
        self,
        in_chs: tuple[int, ...],
        out_chs: int = 256,
        *,
        num_outs: int = 5,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.num_outs = num_outs
        self.lateral_convs = nn.ModuleList(
            ConvNormAct(c, out_chs, 1, bias=True, norm=None, **dd) for c in in_chs
        )
        self.fpn_convs = nn.ModuleList(
            ConvNormAct(out_chs, out_chs, 3, bias=True, norm=None, **dd) for _ in in_chs
        )

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, feats, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            up = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], mode="nearest")
            laterals[i - 1] = laterals[i - 1] + up
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals, strict=True)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return outs


class SemanticFPNHead(nn.Module):
    """Per level: conv3x3 + norm + ReLU units with 2x bilinear upsampling up to the finest
    level; the levels are summed (resized to the finest grid) and classified by a 1x1 conv.
    Its output is the logits on the finest level's grid."""

    def __init__(
        self,
        in_chs: tuple[int, ...],
        channels: int,
        num_classes: int,
        *,
        strides: tuple[int, ...],
        norm: MapNormKind | None = "gn",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        heads = []
        for c, stride in zip(in_chs, strides, strict=True):
            units: list[nn.Module] = []
            for k in range(scale_head_depth(stride, strides[0])):
                cin = c if k == 0 else channels
                units.append(
                    ConvNormAct(cin, channels, 3, bias=norm is None, norm=norm, act="relu", **dd)
                )
                if stride != strides[0]:
                    units.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            heads.append(nn.Sequential(*units))
        self.scale_heads = nn.ModuleList(heads)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1, **dd)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        out = self.scale_heads[0](feats[0])
        for head, x in zip(self.scale_heads[1:], feats[1:], strict=False):
            y = head(x)
            if y.shape[2:] != out.shape[2:]:
                y = F.interpolate(y, size=out.shape[2:], mode="bilinear", align_corners=False)
            out = out + y
        return self.conv_seg(out)
