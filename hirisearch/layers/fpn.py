"""Feature pyramids and the semantic FPN head: cost twins of :mod:`hirisearch.layers.fpn_nn`.

- :func:`fpn_cost`: mmdetection's FPN (Lin et al., "Feature Pyramid Networks for Object
  Detection", 2017): a 1x1 lateral conv per input level, top-down nearest upsampling + add, a 3x3
  output conv per level, then extra levels by max-pooling the coarsest output (kernel 1, stride 2:
  Mask R-CNN's P6, ``num_outs=5``). Convs have biases and no norm.
- :func:`semantic_fpn_cost`: Panoptic FPN's semantic head (Kirillov et al., "Panoptic Feature
  Pyramid Networks", 2019), as mmsegmentation's ``FPNHead``: per level ``max(1, log2(stride /
  finest stride))`` 3x3 conv + norm + ReLU units, each followed by a 2x bilinear upsampling on
  coarser levels, summed at the finest level, then a 1x1 classifier.

Resampling (upsampling, max-pooling) does no counted work in our convention.
"""

from __future__ import annotations

import math
from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.norm_act import MapNormKind
from hirisearch.train.tape import INT64, Sym, Tape

HW = tuple[int, int]


def pool_hw(hw: HW) -> HW:
    """The grid of a stride-2 max-pool of kernel 1 (FPN's extra levels): ceil of half."""
    return (P.conv_out(hw[0], 1, 2), P.conv_out(hw[1], 1, 2))


def fpn_out_hws(in_hws: tuple[HW, ...], num_outs: int) -> tuple[HW, ...]:
    """The output grids of an FPN: the input levels', then one max-pooled level per extra."""
    hws = list(in_hws)
    while len(hws) < num_outs:
        hws.append(pool_hw(hws[-1]))
    return tuple(hws)


@lru_cache(maxsize=256)
def fpn_cost(
    in_chs: tuple[int, ...], out_chs: int, *, num_outs: int, in_hws: tuple[HW, ...]
) -> CostNode:
    """Cost twin of :class:`~hirisearch.layers.fpn_nn.FPN` on levels of grids ``in_hws``."""
    lateral = [
        (str(i), conv_norm_act_cost(c, out_chs, 1, bias=True, norm=None, hw=hw))
        for i, (c, hw) in enumerate(zip(in_chs, in_hws, strict=True))
    ]
    output = [
        (str(i), conv_norm_act_cost(out_chs, out_chs, 3, bias=True, norm=None, hw=hw))
        for i, hw in enumerate(in_hws)
    ]
    out_hw = fpn_out_hws(in_hws, num_outs)[-1]
    return CostNode.of(
        [("lateral_convs", CostNode.of(lateral)), ("fpn_convs", CostNode.of(output))],
        out_shape=(out_chs, *out_hw),
    )


def scale_head_depth(stride: int, finest: int) -> int:
    """Conv units of a semantic FPN scale head: one per 2x step up to the finest level (>= 1)."""
    return max(1, int(math.log2(stride) - math.log2(finest)))


def up2_hw(hw: HW) -> HW:
    """The grid of a 2x upsampling."""
    return (2 * hw[0], 2 * hw[1])


@lru_cache(maxsize=256)
def semantic_fpn_cost(
    in_chs: tuple[int, ...],
    channels: int,
    num_classes: int,
    *,
    strides: tuple[int, ...],
    norm: MapNormKind | None,
    in_hws: tuple[HW, ...],
) -> CostNode:
    """Cost twin of :class:`~hirisearch.layers.fpn_nn.SemanticFPNHead`; its logits are on the
    finest level's grid (``in_hws[0]``)."""
    heads = []
    for i, (c, stride, hw) in enumerate(zip(in_chs, strides, in_hws, strict=True)):
        units, cin = [], c
        for k in range(scale_head_depth(stride, strides[0])):
            # mmcv's ConvModule: a bias only without a norm; a 2x upsampling after each unit of a
            # coarser level (its index in the Sequential is 2k; the upsampling's 2k+1).
            units.append(
                (
                    str(2 * k if stride != strides[0] else k),
                    conv_norm_act_cost(
                        cin, channels, 3, bias=norm is None, norm=norm, act="relu", hw=hw
                    ),
                )
            )
            cin = channels
            if stride != strides[0]:
                hw = up2_hw(hw)
        heads.append((str(i), CostNode.of(units)))
    cls = conv_norm_act_cost(channels, num_classes, 1, bias=True, norm=None, hw=in_hws[0])
    return CostNode.of([("scale_heads", CostNode.of(heads)), ("conv_seg", cls.child("conv"))])


def max_pool_train(t: Tape, x: Sym, out_n: int) -> Sym:
    """``F.max_pool2d`` to ``out_n`` elements per sample: keeps its input and the int64 indices
    of the maxima."""
    out = t.new(out_n, x.b)
    t.keep(x, t.new(out_n, INT64, grad=False))
    return out


def fpn_train(
    t: Tape,
    feats: list[Sym],
    in_chs: tuple[int, ...],
    out_chs: int,
    *,
    num_outs: int,
    in_hws: tuple[HW, ...],
) -> list[Sym]:
    """Training twin of :class:`~hirisearch.layers.fpn_nn.FPN`: its output maps, finest first.
    Nearest upsampling and additions keep nothing; the extra levels' max-pools keep their input
    and indices."""
    laterals = []
    with t.module("lateral_convs"):
        for i, (x, c, hw) in enumerate(zip(feats, in_chs, in_hws, strict=True)):
            with t.module(i):
                y, _ = conv_norm_act_train(t, x, c, out_chs, 1, bias=True, norm=None, hw=hw)
            laterals.append(y)
    for i in range(len(laterals) - 1, 0, -1):
        hw = in_hws[i - 1]
        up = t.copy(laterals[i], out_chs * hw[0] * hw[1])
        laterals[i - 1] = t.add(laterals[i - 1], up)
    outs = []
    with t.module("fpn_convs"):
        for i, (x, hw) in enumerate(zip(laterals, in_hws, strict=True)):
            with t.module(i):
                y, _ = conv_norm_act_train(t, x, out_chs, out_chs, 3, bias=True, norm=None, hw=hw)
            outs.append(y)
    for hw in fpn_out_hws(in_hws, num_outs)[len(in_hws) :]:
        outs.append(max_pool_train(t, outs[-1], out_chs * hw[0] * hw[1]))
    return outs


def semantic_fpn_train(
    t: Tape,
    feats: list[Sym],
    in_chs: tuple[int, ...],
    channels: int,
    num_classes: int,
    *,
    strides: tuple[int, ...],
    norm: MapNormKind | None,
    in_hws: tuple[HW, ...],
) -> Sym:
    """Training twin of :class:`~hirisearch.layers.fpn_nn.SemanticFPNHead`: its logits.
    Bilinear upsampling and the sum keep nothing."""
    out: Sym | None = None
    finest = in_hws[0]
    with t.module("scale_heads"):
        for i, (x, c, stride, hw) in enumerate(zip(feats, in_chs, strides, in_hws, strict=True)):
            y, cin = x, c
            with t.module(i):
                for k in range(scale_head_depth(stride, strides[0])):
                    coarse = stride != strides[0]
                    with t.module(2 * k if coarse else k):
                        y, hw = conv_norm_act_train(
                            t, y, cin, channels, 3, bias=norm is None, norm=norm, act="relu", hw=hw
                        )
                    cin = channels
                    if coarse:
                        hw = up2_hw(hw)
                        with t.module(2 * k + 1):
                            y = t.copy(y, channels * hw[0] * hw[1])
            if hw != finest:  # resized to the finest grid
                y = t.copy(y, channels * finest[0] * finest[1])
            out = y if out is None else t.add(out, y)
    assert out is not None
    with t.module("conv_seg"):
        return t.conv(out, channels, num_classes, 1, num_classes * finest[0] * finest[1], bias=True)
