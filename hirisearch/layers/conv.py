"""Convolution + norm + activation, the building unit of every convolutional part."""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.norm_act import ActKind, MapNormKind, norm_cost, norm_train
from hirisearch.train.tape import Sym, Tape


@lru_cache(maxsize=4096)
def conv_norm_act_cost(
    in_chs: int,
    out_chs: int,
    kernel_size: int = 1,
    stride: int = 1,
    *,
    groups: int = 1,
    bias: bool = False,
    norm: MapNormKind | None = "bn",
    act: ActKind | None = None,
    hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`ConvNormAct` on an ``hw`` input map."""
    pad = kernel_size // 2
    out_hw = (
        P.conv_out(hw[0], kernel_size, stride, pad),
        P.conv_out(hw[1], kernel_size, stride, pad),
    )
    shape = (out_chs, *out_hw)
    children = [
        (
            "conv",
            CostNode.leaf(
                P.conv2d(in_chs, out_chs, kernel_size, out_hw, groups=groups, bias=bias), shape
            ),
        )
    ]
    if norm:
        children.append(
            (
                "norm",
                CostNode.leaf(norm_cost(norm, out_chs, out_chs * out_hw[0] * out_hw[1]), shape),
            )
        )
    return CostNode.of(children, out_shape=shape)


def conv_norm_act_train(
    t: Tape,
    x: Sym,
    in_chs: int,
    out_chs: int,
    kernel_size: int = 1,
    stride: int = 1,
    *,
    groups: int = 1,
    bias: bool = False,
    norm: MapNormKind | None = "bn",
    act: ActKind | None = None,
    hw: tuple[int, int],
) -> tuple[Sym, tuple[int, int]]:
    """Training twin of :class:`ConvNormAct` on an ``hw`` map: its output and output grid."""
    pad = kernel_size // 2
    out_hw = (
        P.conv_out(hw[0], kernel_size, stride, pad),
        P.conv_out(hw[1], kernel_size, stride, pad),
    )
    n = out_chs * out_hw[0] * out_hw[1]
    with t.module("conv"):
        y = t.conv(x, in_chs, out_chs, kernel_size, n, groups=groups, bias=bias)
    if norm:
        with t.module("norm"):
            y = norm_train(t, y, norm, out_chs)
    if act:
        with t.module("act"):
            y = t.act(y, act)
    return y, out_hw
