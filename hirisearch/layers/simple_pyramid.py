"""A four-level pyramid from one stride-16 map, as PIIP's detection backbone builds it.

OpenGVLab/PIIP's ``PIIPThreeBranch`` (``with_simple_fpn``) turns the merged map into the four
maps its FPN neck reads: ``fpn1`` = 2x2/2 transposed conv, GroupNorm(32), GELU, 2x2/2
transposed conv (stride 4); ``fpn2`` = one 2x2/2 transposed conv (stride 8); ``fpn3`` = the map
itself (stride 16); ``fpn4`` = 2x2/2 max pooling (stride 32). Every level keeps the map's
channels. (ViTDet's simple feature pyramid, the ``sfp`` neck, adds 1x1 and 3x3 convs to 256
channels; this one hands the channels on to an FPN.) GELU and max pooling do no counted work.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.layers.fpn import max_pool_train
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]
GROUPS = 32


def deconv2x2_cost(in_chs: int, out_chs: int, *, hw: Hw) -> CostNode:
    """A 2x2 stride-2 transposed convolution (bias) of an ``hw`` map: each input cell writes a
    2x2 block, so the MACs are ``in * out * 4`` per input cell."""
    weights = in_chs * out_chs * 4
    out_hw = (2 * hw[0], 2 * hw[1])
    cost = Cost(params=weights + out_chs, conv=weights * hw[0] * hw[1],
                acts=out_chs * out_hw[0] * out_hw[1])  # fmt: skip
    return CostNode.leaf(cost, (out_chs, *out_hw))


@lru_cache(maxsize=256)
def simple_pyramid_cost(dim: int, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`~hirisearch.layers.simple_pyramid_nn.SimplePyramid` on an ``hw``
    map; ``out_shape`` is the finest level's."""
    up = deconv2x2_cost(dim, dim, hw=hw)
    up_hw = (2 * hw[0], 2 * hw[1])
    fpn1 = CostNode.of(
        [
            ("0", up),
            ("1", CostNode.leaf(P.group_norm(dim, dim * up_hw[0] * up_hw[1]))),
            ("3", deconv2x2_cost(dim, dim, hw=up_hw)),
        ]
    )
    return CostNode.of(
        [("fpn1", fpn1), ("fpn2", CostNode.of([("0", up)]))], out_shape=fpn1.out_shape
    )


def simple_pyramid_grids(hw: Hw) -> tuple[Hw, Hw, Hw, Hw]:
    """The four levels' grids (strides 4x finer, 2x finer, the map, 2x coarser by flooring)."""
    return (4 * hw[0], 4 * hw[1]), (2 * hw[0], 2 * hw[1]), hw, (hw[0] // 2, hw[1] // 2)


def simple_pyramid_train(t: Tape, x: Sym, dim: int, *, hw: Hw) -> list[Sym]:
    """Training twin of :class:`~hirisearch.layers.simple_pyramid_nn.SimplePyramid` on an ``hw``
    map ``x``: its four levels, finest first. The transposed convs keep their input, GroupNorm
    and GELU theirs, max pooling its input and indices; ``fpn3`` hands ``x`` on."""
    up_n = dim * 4 * hw[0] * hw[1]
    with t.module("fpn1"):
        with t.module(0):
            y = t.conv(x, dim, dim, 2, up_n, bias=True)
        with t.module(1):
            y = t.group_norm(y, dim, GROUPS)
        with t.module(2):
            y = t.act(y, "gelu")
        with t.module(3):
            y = t.conv(y, dim, dim, 2, 4 * up_n, bias=True)
    with t.module("fpn2"), t.module(0):
        z = t.conv(x, dim, dim, 2, up_n, bias=True)
    with t.module("fpn4"):
        p = max_pool_train(t, x, dim * (hw[0] // 2) * (hw[1] // 2))
    return [y, z, x, p]
