"""The ``nn.Module`` half of :mod:`hirisearch.layers.upernet` (imported only when a model is built).

UperNet's decode head (PPM + FPN + fusion) and the FCN head it trains with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct


def resize(x: torch.Tensor, hw: tuple[int, ...]) -> torch.Tensor:
    """Bilinear resize to ``hw`` (mmseg's ``resize`` with ``align_corners=False``)."""
    return x if tuple(x.shape[-2:]) == tuple(hw) else F.interpolate(x, hw, mode="bilinear")


def _cm(in_chs: int, out_chs: int, k: int, **dd) -> ConvNormAct:
    return ConvNormAct(in_chs, out_chs, k, norm="bn", act="relu", **dd)


class PoolConv(nn.Module):
    """One PPM branch: adaptive average pooling to ``scale`` x ``scale``, then a 1x1 ConvModule."""

    def __init__(self, scale: int, in_chs: int, out_chs: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(scale)
        self.conv = _cm(in_chs, out_chs, 1, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pool(x))


class UPerHead(nn.Module):
    """UperNet's decode head on a pyramid of ``in_chs`` channels (finest first)."""

    def __init__(
        self,
        in_chs: tuple[int, ...],
        *,
        channels: int = 512,
        pool_scales: tuple[int, ...] = (1, 2, 3, 6),
        num_classes: int = 150,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        n, last = len(in_chs), in_chs[-1]
        self.psp_modules = nn.ModuleList(PoolConv(s, last, channels, **dd) for s in pool_scales)
        self.bottleneck = _cm(last + len(pool_scales) * channels, channels, 3, **dd)
        self.lateral_convs = nn.ModuleList(_cm(c, channels, 1, **dd) for c in in_chs[:-1])
        self.fpn_convs = nn.ModuleList(_cm(channels, channels, 3, **dd) for _ in in_chs[:-1])
        self.fpn_bottleneck = _cm(n * channels, channels, 3, **dd)
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1, **dd)

    def psp(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x, *(resize(m(x), x.shape[-2:]) for m in self.psp_modules)]
        return self.bottleneck(torch.cat(outs, dim=1))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        lat = [conv(f) for conv, f in zip(self.lateral_convs, feats, strict=False)]
        lat.append(self.psp(feats[-1]))
        for i in range(len(lat) - 1, 0, -1):  # top-down: add the coarser level, upsampled
            lat[i - 1] = lat[i - 1] + resize(lat[i], lat[i - 1].shape[-2:])
        outs = [conv(x) for conv, x in zip(self.fpn_convs, lat, strict=False)] + [lat[-1]]
        size = outs[0].shape[-2:]
        fused = self.fpn_bottleneck(torch.cat([resize(o, size) for o in outs], dim=1))
        return self.conv_seg(self.dropout(fused))


class FCNHead(nn.Module):
    """``num_convs`` 3x3 ConvModules and the 1x1 classifier on one map (UperNet's auxiliary
    head, which trains on stage 3's map)."""

    def __init__(
        self,
        in_chs: int,
        *,
        channels: int = 256,
        num_convs: int = 1,
        num_classes: int = 150,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.convs = nn.Sequential(
            *(_cm(in_chs if i == 0 else channels, channels, 3, **dd) for i in range(num_convs))
        )
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_seg(self.dropout(self.convs(x)))
