"""The ``nn.Module`` half of :mod:`hirisearch.layers.hrnet` (imported only when a model is built).

HRNet-style multi-resolution parts: the cross-resolution fusion block, the ResNet bottleneck and
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.hrnet import (
    Hw,
)
from hirisearch.layers.norm_act import ActKind
from hirisearch.layers.norm_act_nn import make_act


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
