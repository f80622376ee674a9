"""Inverted Residual Downsampling (IRDS), HIRI-ViT's stride-2 block between stages: 1x1 expand +
norm + act, depth-wise 3x3/s2 + norm + act, 1x1 project + norm; variant ``irds_b`` adds an
avg-pool + 1x1 + norm shortcut."""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.norm_act import ActKind, NormKind
from hirisearch.train.tape import Sym, Tape


@lru_cache(maxsize=4096)
def irds_cost(
    in_chs: int,
    out_chs: int,
    *,
    hidden: int,
    variant: str = "irds_b",
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`IRDS` on an ``hw`` map."""
    h = hidden
    c1 = conv_norm_act_cost(in_chs, h, 1, norm=norm, act=act, hw=hw)
    c2 = conv_norm_act_cost(h, h, 3, 2, groups=h, norm=norm, act=act, hw=hw)
    out_hw = (c2.out_shape[-2], c2.out_shape[-1])
    children = [
        ("conv1", c1),
        ("conv2", c2),
        ("conv3", conv_norm_act_cost(h, out_chs, 1, norm=norm, hw=out_hw)),
    ]
    if variant == "irds_b":
        proj = conv_norm_act_cost(in_chs, out_chs, 1, norm=norm, hw=out_hw)
        children.append(("shortcut", CostNode.of([("1", proj)])))
    return CostNode.of(children, out_shape=(out_chs, *out_hw))


def irds_train(
    t: Tape,
    x: Sym,
    in_chs: int,
    out_chs: int,
    *,
    hidden: int,
    variant: str = "irds_b",
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    hw: tuple[int, int],
) -> Sym:
    """Training twin of :class:`IRDS`."""
    h = hidden
    with t.module("conv1"):
        y, _ = conv_norm_act_train(t, x, in_chs, h, 1, norm=norm, act=act, hw=hw)
    with t.module("conv2"):
        y, out_hw = conv_norm_act_train(t, y, h, h, 3, 2, groups=h, norm=norm, act=act, hw=hw)
    with t.module("conv3"):
        y, _ = conv_norm_act_train(t, y, h, out_chs, 1, norm=norm, hw=out_hw)
    if variant != "irds_b":
        return y
    with t.module("shortcut"):
        with t.module(0):
            s = t.avg_pool(x, in_chs * out_hw[0] * out_hw[1])
        with t.module(1):
            s, _ = conv_norm_act_train(t, s, in_chs, out_chs, 1, norm=norm, hw=out_hw)
    return t.add(y, s)
