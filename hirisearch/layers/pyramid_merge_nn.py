"""The ``nn.Module`` half of :mod:`hirisearch.layers.pyramid_merge` (imported only when a model is built).

Merging the branches of an image pyramid into one map (PIIP's branch merge).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.pyramid_merge import (
    GROUPS,
    Hw,
)


def _to_map(x: torch.Tensor, hw: Hw) -> torch.Tensor:
    b, n, c = x.shape
    return x.transpose(1, 2).reshape(b, c, hw[0], hw[1])


def _weighted_sum(maps: list[torch.Tensor], weights: torch.Tensor, hw: Hw) -> torch.Tensor:
    resized = [
        m
        if tuple(m.shape[-2:]) == hw
        else F.interpolate(m, size=hw, mode="bilinear", align_corners=False)
        for m in maps
    ]
    out = resized[0] * weights[0]
    for i in range(1, len(resized)):
        out = out + resized[i] * weights[i]
    return out


class GNLinearGN(nn.Module):
    """GroupNorm -> per-position Linear -> GroupNorm on a map (B, C, H, W)."""

    def __init__(self, in_chs: int, out_chs: int, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.norm1 = nn.GroupNorm(GROUPS, in_chs, **dd)
        self.fc = nn.Linear(in_chs, out_chs, **dd)
        self.norm2 = nn.GroupNorm(GROUPS, out_chs, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(self.norm1(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.norm2(x)


class MergedHead(nn.Module):
    """Classification merge: project, upsample, weighted sum, LayerNorm -> mean -> Linear."""

    def __init__(self, dims: Sequence[int], num_classes: int, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        d1 = dims[0]
        projs: list[nn.Module] = [nn.GroupNorm(GROUPS, d1, **dd)]
        projs += [GNLinearGN(d, d1, **dd) for d in dims[1:]]
        self.projs = nn.ModuleList(projs)
        self.weights = nn.Parameter(torch.ones(len(dims), **dd))
        self.norm = nn.LayerNorm(d1, eps=1e-6, **dd)
        self.head = nn.Linear(d1, num_classes, **dd)

    def forward(self, xs: list[torch.Tensor], hws: list[Hw]) -> torch.Tensor:
        maps = [proj(_to_map(x, hw)) for proj, x, hw in zip(self.projs, xs, hws, strict=True)]
        out = _weighted_sum(maps, self.weights, hws[-1]).flatten(2).transpose(1, 2)
        return self.head(self.norm(out).mean(1))


class DenseProj(nn.Module):
    """Two 3x3 convolutions (no bias), each followed by GroupNorm and ReLU."""

    def __init__(self, in_chs: int, out_chs: int, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, 1, 1, bias=False, **dd)
        self.norm1 = nn.GroupNorm(GROUPS, out_chs, **dd)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, 1, 1, bias=False, **dd)
        self.norm2 = nn.GroupNorm(GROUPS, out_chs, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(x)))


class DenseMerge(nn.Module):
    """Dense merge: project every branch with :class:`DenseProj`, upsample, weighted sum."""

    def __init__(self, dims: Sequence[int], *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.projs = nn.ModuleList(DenseProj(d, dims[0], **dd) for d in dims)
        self.weights = nn.Parameter(torch.ones(len(dims), **dd))

    def forward(self, xs: list[torch.Tensor], hws: list[Hw]) -> torch.Tensor:
        maps = [proj(_to_map(x, hw)) for proj, x, hw in zip(self.projs, xs, hws, strict=True)]
        return _weighted_sum(maps, self.weights, hws[-1])
