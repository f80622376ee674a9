"""HRNet-style multi-resolution parts: the cross-resolution fusion block, the ResNet bottleneck and
the HRNet classification head (as used by HRNet-W* classifiers and HRViT).

Branch ``i`` runs at stride ``2^i`` relative to branch 0; every map size is given by the caller
(the plan), so nothing here recomputes geometry.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import ZERO, CostNode
from hirisearch.layers.conv import ConvNormAct, conv_norm_act_cost
from hirisearch.layers.norm_act import ActKind, make_act

Hw = tuple[int, int]


def _nonzero(children: list[tuple[str, CostNode]]) -> list[tuple[str, CostNode]]:
    """Children that do counted work or hold parameters (identities and resizes do neither)."""
    return [(name, node) for name, node in children if node.total != ZERO]


class HRFusion(nn.Module):
    """Cross-resolution exchange: ``out_i = act(sum_j f_ij(x_j))`` for every output branch ``i``.

    ``f_ii`` is the identity; a higher-resolution input (``j < i``) goes through a depth-wise
    ``(2^d + 1)``-square conv of stride ``2^d`` (``d = i - j``) + BN, then a 1x1 conv + BN; a
    lower-resolution input (``j > i``) goes through a 1x1 conv + BN, then nearest up-sampling to
    branch ``i``'s size. An output branch with no matching input (a new branch) is fused from the
    inputs alone. ``in_chs[i] == out_chs[i]`` must hold where both exist (identity paths).
    """

    def __init__(
        self,
        in_chs: tuple[int, ...],
        out_chs: tuple[int, ...],
        out_hws: tuple[Hw, ...],
        *,
        act: ActKind = "gelu",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.out_hws = out_hws
        rows = []
        for i, oc in enumerate(out_chs):
            row: list[nn.Module] = []
            for j, ic in enumerate(in_chs):
                d = i - j
                if d == 0:
                    row.append(nn.Identity())
                elif d > 0:
                    k, s = 2**d + 1, 2**d
                    row.append(
                        nn.Sequential(
                            ConvNormAct(ic, ic, k, s, groups=ic, norm="bn", **dd),
                            ConvNormAct(ic, oc, 1, bias=True, norm="bn", **dd),
                        )
                    )
                else:
                    row.append(ConvNormAct(ic, oc, 1, bias=True, norm="bn", **dd))
            rows.append(nn.ModuleList(row))
        self.paths = nn.ModuleList(rows)
        self.acts = nn.ModuleList(make_act(act) for _ in out_chs)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for i, (row, act) in enumerate(zip(self.paths, self.acts, strict=True)):
            total = None
            for j, (x, path) in enumerate(zip(xs, cast(nn.ModuleList, row), strict=True)):
                y = path(x)
                if j > i:
                    y = F.interpolate(y, size=self.out_hws[i], mode="nearest")
                total = y if total is None else total + y
            outs.append(act(total))
        return outs


@lru_cache(maxsize=1024)
def hr_fusion_cost(
    in_chs: tuple[int, ...],
    out_chs: tuple[int, ...],
    in_hws: tuple[Hw, ...],
    out_hws: tuple[Hw, ...],
    *,
    act: ActKind = "gelu",
) -> CostNode:
    """Cost twin of :class:`HRFusion` (inputs of sizes ``in_hws``, outputs of sizes ``out_hws``)."""
    rows = []
    for i, oc in enumerate(out_chs):
        row = []
        for j, ic in enumerate(in_chs):
            d = i - j
            if d > 0:
                down = conv_norm_act_cost(ic, ic, 2**d + 1, 2**d, groups=ic, in_hw=in_hws[j])
                proj = conv_norm_act_cost(ic, oc, 1, bias=True, in_hw=down.out_shape[1:])
                row.append((str(j), CostNode.of([("0", down), ("1", proj)])))
            elif d < 0:
                row.append((str(j), conv_norm_act_cost(ic, oc, 1, bias=True, in_hw=in_hws[j])))
        rows.append((str(i), CostNode.of(_nonzero(row), out_shape=(oc, *out_hws[i]))))
    paths = CostNode.of(_nonzero(rows))
    return CostNode.of(_nonzero([("paths", paths)]), out_shape=(out_chs[-1], *out_hws[-1]))


class Bottleneck(nn.Module):
    """ResNet bottleneck (stride 1): 1x1 -> 3x3 -> 1x1 (x ``expansion``), BN + ReLU, projected
    shortcut when the widths differ, ReLU after the sum."""

    def __init__(
        self, in_chs: int, planes: int, *, expansion: int = 4, device=None, dtype=None
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        out = planes * expansion
        self.conv1 = ConvNormAct(in_chs, planes, 1, norm="bn", act="relu", **dd)
        self.conv2 = ConvNormAct(planes, planes, 3, norm="bn", act="relu", **dd)
        self.conv3 = ConvNormAct(planes, out, 1, norm="bn", **dd)
        self.shortcut = (
            ConvNormAct(in_chs, out, 1, norm="bn", **dd) if in_chs != out else nn.Identity()
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


@lru_cache(maxsize=1024)
def bottleneck_cost(in_chs: int, planes: int, *, expansion: int = 4, in_hw: Hw) -> CostNode:
    """Cost twin of :class:`Bottleneck` on an ``in_hw`` map."""
    out = planes * expansion
    children = [
        ("conv1", conv_norm_act_cost(in_chs, planes, 1, act="relu", in_hw=in_hw)),
        ("conv2", conv_norm_act_cost(planes, planes, 3, act="relu", in_hw=in_hw)),
        ("conv3", conv_norm_act_cost(planes, out, 1, in_hw=in_hw)),
    ]
    if in_chs != out:
        children.append(("shortcut", conv_norm_act_cost(in_chs, out, 1, in_hw=in_hw)))
    return CostNode.of(children, out_shape=(out, *in_hw))


class HRNetClassifier(nn.Module):
    """HRNet classification head: widen every branch with a bottleneck, fold the branches from the
    highest resolution down (3x3/s2 conv + BN + ReLU, then add the next branch), 1x1 conv to
    ``final_chs`` + BN + ReLU, global average pool, linear classifier."""

    def __init__(
        self,
        in_chs: tuple[int, ...],
        head_chs: tuple[int, ...],
        *,
        expansion: int = 4,
        final_chs: int = 2048,
        num_classes: int = 1000,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        wide = [c * expansion for c in head_chs]
        self.incre = nn.ModuleList(
            Bottleneck(c, h, expansion=expansion, **dd)
            for c, h in zip(in_chs, head_chs, strict=True)
        )
        self.downsamp = nn.ModuleList(
            ConvNormAct(wide[i], wide[i + 1], 3, 2, bias=True, norm="bn", act="relu", **dd)
            for i in range(len(wide) - 1)
        )
        self.final = ConvNormAct(wide[-1], final_chs, 1, bias=True, norm="bn", act="relu", **dd)
        self.fc = nn.Linear(final_chs, num_classes, **dd) if num_classes else nn.Identity()

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        y = self.incre[0](xs[0])
        for i, down in enumerate(self.downsamp):
            y = self.incre[i + 1](xs[i + 1]) + down(y)
        return self.fc(self.final(y).mean((2, 3)))


@lru_cache(maxsize=1024)
def hrnet_classifier_cost(
    in_chs: tuple[int, ...],
    head_chs: tuple[int, ...],
    *,
    expansion: int = 4,
    final_chs: int = 2048,
    num_classes: int = 1000,
    in_hws: tuple[Hw, ...],
) -> CostNode:
    """Cost twin of :class:`HRNetClassifier` on branch maps of sizes ``in_hws``."""
    wide = [c * expansion for c in head_chs]
    incre = CostNode.of(
        [
            (str(i), bottleneck_cost(c, h, expansion=expansion, in_hw=hw))
            for i, (c, h, hw) in enumerate(zip(in_chs, head_chs, in_hws, strict=True))
        ]
    )
    children = [("incre", incre)]
    if len(wide) > 1:
        down = [
            (
                str(i),
                conv_norm_act_cost(
                    wide[i], wide[i + 1], 3, 2, bias=True, act="relu", in_hw=in_hws[i]
                ),
            )
            for i in range(len(wide) - 1)
        ]
        children.append(("downsamp", CostNode.of(down)))
    children.append(
        (
            "final",
            conv_norm_act_cost(wide[-1], final_chs, 1, bias=True, act="relu", in_hw=in_hws[-1]),
        )
    )
    if num_classes:
        children.append(("fc", CostNode.leaf(P.linear(final_chs, num_classes, 1))))
    return CostNode.of(children, out_shape=(num_classes or final_chs,))
