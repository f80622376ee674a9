"""Merging the branches of an image pyramid into one map (PIIP's branch merge).

Every branch's token map is projected to the first branch's width, upsampled bilinearly to the
last branch's grid and summed with learnable scalar weights (initialised to 1). Two projection
kinds: the classification form (GroupNorm -> Linear -> GroupNorm; the first branch only GroupNorm)
followed by LayerNorm -> mean -> Linear head (:class:`MergedHead`), and the dense form (two 3x3
conv + GroupNorm + ReLU, no bias) that returns the map (:class:`DenseMerge`). Upsampling, ReLU and
the weighted sum do no counted work.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode

Hw = tuple[int, int]
GROUPS = 32


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


@lru_cache(maxsize=256)
def gn_linear_gn_cost(in_chs: int, out_chs: int, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`GNLinearGN`."""
    n = hw[0] * hw[1]
    return CostNode.of(
        [
            ("norm1", CostNode.leaf(P.group_norm(in_chs, in_chs * n))),
            ("fc", CostNode.leaf(P.linear(in_chs, out_chs, n))),
            ("norm2", CostNode.leaf(P.group_norm(out_chs, out_chs * n))),
        ],
        out_shape=(out_chs, *hw),
    )


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


@lru_cache(maxsize=256)
def merged_head_cost(dims: tuple[int, ...], num_classes: int, *, grids: tuple[Hw, ...]) -> CostNode:
    """Cost twin of :class:`MergedHead` for branch token ``grids``."""
    d1 = dims[0]
    n1 = grids[0][0] * grids[0][1]
    projs = [("0", CostNode.leaf(P.group_norm(d1, d1 * n1)))]
    projs += [
        (str(i), gn_linear_gn_cost(d, d1, hw=g))
        for i, (d, g) in enumerate(zip(dims, grids, strict=True))
        if i
    ]
    last = grids[-1][0] * grids[-1][1]
    return CostNode.of(
        [
            ("projs", CostNode.of(projs)),
            ("norm", CostNode.leaf(P.layer_norm(d1, d1 * last))),
            ("head", CostNode.leaf(P.linear(d1, num_classes, 1))),
        ],
        own=P.param_only(len(dims)),
        out_shape=(num_classes,),
    )


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


@lru_cache(maxsize=256)
def dense_proj_cost(in_chs: int, out_chs: int, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`DenseProj` on an ``hw`` map."""
    n = hw[0] * hw[1]
    gn = CostNode.leaf(P.group_norm(out_chs, out_chs * n))
    return CostNode.of(
        [
            ("conv1", CostNode.leaf(P.conv2d(in_chs, out_chs, 3, hw))),
            ("norm1", gn),
            ("conv2", CostNode.leaf(P.conv2d(out_chs, out_chs, 3, hw))),
            ("norm2", gn),
        ],
        out_shape=(out_chs, *hw),
    )


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


@lru_cache(maxsize=256)
def dense_merge_cost(dims: tuple[int, ...], *, grids: tuple[Hw, ...]) -> CostNode:
    """Cost twin of :class:`DenseMerge`; the output is (dims[0], *grids[-1])."""
    projs = [
        (str(i), dense_proj_cost(d, dims[0], hw=g))
        for i, (d, g) in enumerate(zip(dims, grids, strict=True))
    ]
    return CostNode.of(
        [("projs", CostNode.of(projs))],
        own=P.param_only(len(dims)),
        out_shape=(dims[0], *grids[-1]),
    )
