"""ViTDet's simple feature pyramid: cost twin of :mod:`hirisearch.layers.sfp_nn`.

Li et al., "Exploring Plain Vision Transformer Backbones for Object Detection" (ViTDet, 2022), as
detectron2 defines it: from the one stride-16 map of a plain ViT, scale 4 is two 2x2 stride-2
transposed convs (dim -> dim/2, LayerNorm, GELU, -> dim/4), scale 2 one (dim -> dim/2), scale 1
the map itself, scale 1/2 a 2x2 stride-2 max-pool; each level then a 1x1 conv and a 3x3 conv to
``out_chs``, each followed by a LayerNorm (no conv bias with a norm); the last level is max-pooled
once more (kernel 1, stride 2) into P6 (``top_block``). Module paths are detectron2's
(``simfp_2`` ... ``simfp_5``, each a Sequential).
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.fpn import max_pool_train, pool_hw
from hirisearch.layers.norm_act import MapNormKind, norm_cost, norm_train
from hirisearch.train.tape import Sym, Tape

HW = tuple[int, int]
#: ViTDet's scales, finest first.
SCALES: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5)


#: Modules before a level's output convs in its Sequential, by scale.
_PREFIX = {4.0: 4, 2.0: 1, 1.0: 0, 0.5: 1}


def sfp_levels(
    in_chs: int, hw: HW, stride: int, scales: tuple[float, ...]
) -> tuple[tuple[str, float, int, HW], ...]:
    """(module name, scale, channels into the output convs, grid) of each level, finest first."""
    out = []
    for s in scales:
        if s not in _PREFIX:
            raise ValueError(f"`scale in (4.0, 2.0, 1.0, 0.5)` must hold, but got scale={s}")
        if s >= 1:
            c, g = int(in_chs / s), (int(hw[0] * s), int(hw[1] * s))
        else:
            c, g = in_chs, (hw[0] // 2, hw[1] // 2)
        out.append((f"simfp_{int(stride / s).bit_length() - 1}", s, c, g))
    return tuple(out)


def sfp_out_hws(
    hw: HW, *, stride: int = 16, scales: tuple[float, ...] = SCALES, top_block: bool = True
) -> tuple[HW, ...]:
    """The grids of the levels it outputs (with P6 when ``top_block``)."""
    hws = [g for *_, g in sfp_levels(4, hw, stride, scales)]
    return (*hws, pool_hw(hws[-1])) if top_block else tuple(hws)


@lru_cache(maxsize=256)
def sfp_cost(
    in_chs: int,
    out_chs: int,
    *,
    stride: int = 16,
    scales: tuple[float, ...] = SCALES,
    norm: MapNormKind | None = "ln",
    hw: HW,
) -> CostNode:
    """Cost twin of :class:`~hirisearch.layers.sfp_nn.SimpleFeaturePyramid` on an ``hw`` map
    (P6 is a max-pool: no counted work)."""
    levels = []
    for name, s, c, g in sfp_levels(in_chs, hw, stride, scales):
        parts: list[tuple[str, CostNode]] = []
        if s == 4.0:
            half, g2 = in_chs // 2, (2 * hw[0], 2 * hw[1])
            parts += [
                ("0", CostNode.leaf(P.conv_transpose2d(in_chs, half, 2, hw), (half, *g2))),
                ("1", CostNode.leaf(norm_cost("ln", half, half * g2[0] * g2[1]), (half, *g2))),
                ("3", CostNode.leaf(P.conv_transpose2d(half, c, 2, g2), (c, *g))),
            ]
        elif s == 2.0:
            parts.append(("0", CostNode.leaf(P.conv_transpose2d(in_chs, c, 2, hw), (c, *g))))
        at, bias = _PREFIX[s], norm is None
        parts += [
            (str(at), conv_norm_act_cost(c, out_chs, 1, bias=bias, norm=norm, hw=g)),
            (str(at + 1), conv_norm_act_cost(out_chs, out_chs, 3, bias=bias, norm=norm, hw=g)),
        ]
        levels.append((name, CostNode.of(parts)))
    return CostNode.of(levels)


def sfp_train(
    t: Tape,
    feats: list[Sym],
    in_chs: int,
    out_chs: int,
    *,
    stride: int = 16,
    scales: tuple[float, ...] = SCALES,
    norm: MapNormKind | None = "ln",
    top_block: bool = True,
    hw: HW,
) -> list[Sym]:
    """Training twin of :class:`~hirisearch.layers.sfp_nn.SimpleFeaturePyramid` on the last of
    ``feats`` (an ``hw`` map): its levels, finest first. Max-pools keep input and indices."""
    x, outs = feats[-1], []
    for name, s, c, g in sfp_levels(in_chs, hw, stride, scales):
        with t.module(name):
            y = x
            if s == 4.0:
                half = in_chs // 2
                with t.module(0):
                    y = t.conv(y, in_chs, half, 2, half * 4 * hw[0] * hw[1], bias=True)
                with t.module(1):
                    y = norm_train(t, y, "ln", half)
                with t.module(2):
                    y = t.act(y, "gelu")
                with t.module(3):
                    y = t.conv(y, half, c, 2, c * g[0] * g[1], bias=True)
            elif s == 2.0:
                with t.module(0):
                    y = t.conv(y, in_chs, c, 2, c * g[0] * g[1], bias=True)
            elif s == 0.5:
                with t.module(0):
                    y = max_pool_train(t, y, c * g[0] * g[1])
            at, bias = _PREFIX[s], norm is None
            with t.module(at):
                y, _ = conv_norm_act_train(t, y, c, out_chs, 1, bias=bias, norm=norm, hw=g)
            with t.module(at + 1):
                y, _ = conv_norm_act_train(t, y, out_chs, out_chs, 3, bias=bias, norm=norm, hw=g)
        outs.append(y)
    if top_block:
        p6 = pool_hw(g)
        outs.append(max_pool_train(t, outs[-1], out_chs * p6[0] * p6[1]))
    return outs
