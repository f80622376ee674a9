"""UperNet's decode head and the FCN head it trains with (T. Xiao et al., "Unified Perceptual
Parsing for Scene Understanding", ECCV 2018, as mmsegmentation's ``UPerHead`` / ``FCNHead``).

UperNet: a pyramid pooling module (PPM) on the coarsest level (adaptive average pooling to each of
``pool_scales``, a 1x1 ConvModule each, upsampled back and concatenated with the level, then a 3x3
``bottleneck``), an FPN over the other levels (1x1 ``lateral_convs``, top-down bilinear upsampling
and addition, 3x3 ``fpn_convs``), every level upsampled to the finest and concatenated, a 3x3
``fpn_bottleneck`` and the 1x1 classifier ``conv_seg``. Every ConvModule is conv (no bias) + BN
+ ReLU. Resizes are bilinear (no MACs). Cost twins of :mod:`hirisearch.layers.upernet_nn`.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]


def _cm(in_chs: int, out_chs: int, k: int, hw: Hw) -> CostNode:
    """mmseg's ConvModule: conv without bias, BN, ReLU."""
    return conv_norm_act_cost(in_chs, out_chs, k, norm="bn", act="relu", hw=hw)


def cls_conv_cost(in_chs: int, num_classes: int, hw: Hw) -> CostNode:
    """The 1x1 classifier ``conv_seg`` (with bias) on an ``hw`` map."""
    return CostNode.leaf(P.conv2d(in_chs, num_classes, 1, hw, bias=True), (num_classes, *hw))


@lru_cache(maxsize=256)
def upernet_cost(
    in_chs: tuple[int, ...],
    in_hws: tuple[Hw, ...],
    *,
    channels: int = 512,
    pool_scales: tuple[int, ...] = (1, 2, 3, 6),
    num_classes: int = 150,
) -> CostNode:
    """Cost twin of :class:`UPerHead` on maps of ``in_chs`` channels on ``in_hws``, finest first."""
    n = len(in_chs)
    ppm = CostNode.of(
        [
            (str(i), CostNode.of([("conv", _cm(in_chs[-1], channels, 1, (s, s)))]))
            for i, s in enumerate(pool_scales)
        ]
    )
    children = [
        ("psp_modules", ppm),
        ("bottleneck", _cm(in_chs[-1] + len(pool_scales) * channels, channels, 3, in_hws[-1])),
        (
            "lateral_convs",
            CostNode.of([(str(i), _cm(in_chs[i], channels, 1, in_hws[i])) for i in range(n - 1)]),
        ),
        (
            "fpn_convs",
            CostNode.of([(str(i), _cm(channels, channels, 3, in_hws[i])) for i in range(n - 1)]),
        ),
        ("fpn_bottleneck", _cm(n * channels, channels, 3, in_hws[0])),
        ("conv_seg", cls_conv_cost(channels, num_classes, in_hws[0])),
    ]
    return CostNode.of(children)


@lru_cache(maxsize=256)
def fcn_head_cost(
    in_chs: int, hw: Hw, *, channels: int = 256, num_convs: int = 1, num_classes: int = 150
) -> CostNode:
    """Cost twin of :class:`FCNHead` on one ``in_chs`` x ``hw`` map."""
    convs = [
        (str(i), _cm(in_chs if i == 0 else channels, channels, 3, hw)) for i in range(num_convs)
    ]
    return CostNode.of(
        [("convs", CostNode.of(convs)), ("conv_seg", cls_conv_cost(channels, num_classes, hw))]
    )


def _cm_train(t: Tape, x: Sym, in_chs: int, out_chs: int, k: int, hw: Hw) -> Sym:
    return conv_norm_act_train(t, x, in_chs, out_chs, k, norm="bn", act="relu", hw=hw)[0]


def resize_train(t: Tape, x: Sym, chs: int, hw: Hw, to: Hw) -> Sym:
    """A bilinear resize keeps nothing (its backward needs only the sizes)."""
    return x if hw == to else t.copy(x, chs * to[0] * to[1])


def _adaptive_pool_train(t: Tape, x: Sym, chs: int, scale: int) -> Sym:
    """``AdaptiveAvgPool2d(scale)``: keeps its input, except to 1x1, which torch computes as a
    mean (its backward needs only the shape)."""
    if scale == 1:
        return t.copy(x, chs)
    return t.avg_pool(x, chs * scale * scale)


def cls_train(t: Tape, x: Sym, in_chs: int, num_classes: int, hw: Hw) -> Sym:
    """``dropout`` (Dropout2d, p=0.1) and the 1x1 classifier ``conv_seg``."""
    with t.module("dropout"):
        x = t.drop_path(x, 0.1, mask_n=in_chs)  # Dropout2d: a mask per channel
    with t.module("conv_seg"):
        return t.conv(x, in_chs, num_classes, 1, num_classes * hw[0] * hw[1], bias=True)


def upernet_train(
    t: Tape,
    feats: list[Sym],
    in_chs: tuple[int, ...],
    in_hws: tuple[Hw, ...],
    *,
    channels: int = 512,
    pool_scales: tuple[int, ...] = (1, 2, 3, 6),
    num_classes: int = 150,
) -> Sym:
    """Training twin of :class:`UPerHead` on ``feats`` (finest first); returns the logits."""
    n, last, top = len(in_chs), in_chs[-1], in_hws[-1]
    lat = []  # the laterals first, then the pooling module: the order the backward reverses
    with t.module("lateral_convs"):
        for i in range(n - 1):
            with t.module(i):
                lat.append(_cm_train(t, feats[i], in_chs[i], channels, 1, in_hws[i]))
    pooled = []
    with t.module("psp_modules"):
        for i, s in enumerate(pool_scales):
            with t.module(i):
                with t.module("pool"):
                    p = _adaptive_pool_train(t, feats[-1], last, s)
                with t.module("conv"):
                    p = _cm_train(t, p, last, channels, 1, (s, s))
                pooled.append(resize_train(t, p, channels, (s, s), top))
    with t.module("bottleneck"):
        psp = _cm_train(
            t, t.cat([feats[-1], *pooled]), last + len(pooled) * channels, channels, 3, top
        )
    lat.append(psp)
    for i in range(n - 1, 0, -1):
        lat[i - 1] = t.add(lat[i - 1], resize_train(t, lat[i], channels, in_hws[i], in_hws[i - 1]))
    outs = []
    with t.module("fpn_convs"):
        for i in range(n - 1):
            with t.module(i):
                outs.append(_cm_train(t, lat[i], channels, channels, 3, in_hws[i]))
    outs.append(lat[-1])
    ups = [resize_train(t, o, channels, in_hws[i], in_hws[0]) for i, o in enumerate(outs)]
    with t.module("fpn_bottleneck"):
        fused = _cm_train(t, t.cat(ups), n * channels, channels, 3, in_hws[0])
    return cls_train(t, fused, channels, num_classes, in_hws[0])


def fcn_head_train(
    t: Tape,
    x: Sym,
    in_chs: int,
    hw: Hw,
    *,
    channels: int = 256,
    num_convs: int = 1,
    num_classes: int = 150,
) -> Sym:
    """Training twin of :class:`FCNHead` on one ``in_chs`` x ``hw`` map; returns the logits."""
    with t.module("convs"):
        for i in range(num_convs):
            with t.module(i):
                x = _cm_train(t, x, in_chs if i == 0 else channels, channels, 3, hw)
    return cls_train(t, x, channels, num_classes, hw)
