"""Merging the branches of an image pyramid into one map (PIIP's branch merge).

Every branch's token map is projected to the first branch's width, upsampled bilinearly to the
last branch's grid and summed with learnable scalar weights (initialised to 1). Two projection
kinds: the classification form (GroupNorm -> Linear -> GroupNorm; the first branch only GroupNorm)
followed by LayerNorm -> mean -> Linear head (:class:`MergedHead`), and the dense form (two 3x3
conv + GroupNorm + ReLU, no bias) that returns the map (:class:`DenseMerge`). Upsampling, ReLU and
the weighted sum do no counted work.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]
GROUPS = 32


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


@lru_cache(maxsize=256)
def merged_head_cost(dims: tuple[int, ...], num_classes: int, *, hws: tuple[Hw, ...]) -> CostNode:
    """Cost twin of :class:`MergedHead` for branch token ``hws``."""
    d1 = dims[0]
    n1 = hws[0][0] * hws[0][1]
    projs = [("0", CostNode.leaf(P.group_norm(d1, d1 * n1)))]
    projs += [
        (str(i), gn_linear_gn_cost(d, d1, hw=hw))
        for i, (d, hw) in enumerate(zip(dims, hws, strict=True))
        if i
    ]
    last = hws[-1][0] * hws[-1][1]
    return CostNode.of(
        [
            ("projs", CostNode.of(projs)),
            ("norm", CostNode.leaf(P.layer_norm(d1, d1 * last))),
            ("head", CostNode.leaf(P.linear(d1, num_classes, 1))),
        ],
        own=P.param_only(len(dims)),
        out_shape=(num_classes,),
    )


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


@lru_cache(maxsize=256)
def dense_merge_cost(dims: tuple[int, ...], *, hws: tuple[Hw, ...]) -> CostNode:
    """Cost twin of :class:`DenseMerge`; the output is (dims[0], *hws[-1])."""
    projs = [
        (str(i), dense_proj_cost(d, dims[0], hw=hw))
        for i, (d, hw) in enumerate(zip(dims, hws, strict=True))
    ]
    return CostNode.of(
        [("projs", CostNode.of(projs))],
        own=P.param_only(len(dims)),
        out_shape=(dims[0], *hws[-1]),
    )


def _weighted_sum_train(t: Tape, maps: list[Sym], n: int) -> Sym:
    """``sum_i resize(map_i) * weights[i]`` (bilinear resizes keep nothing)."""
    weights = t.parameter(len(maps))
    out = None
    for m in maps:
        m = m if m.n == n else t.copy(m, n)
        term = t.scale(m, weights, scalar=True)  # weights[i]: takes the map's dtype
        out = term if out is None else t.add(out, term)
    assert out is not None
    return out


def dense_merge_train(t: Tape, xs: list[Sym], dims: tuple[int, ...], *, hws: tuple[Hw, ...]) -> Sym:
    """Training twin of :class:`DenseMerge` (token maps read as channels-last views)."""
    d1 = dims[0]
    maps = []
    for i, (x, d, hw) in enumerate(zip(xs, dims, hws, strict=True)):
        n = d1 * hw[0] * hw[1]
        with t.module("projs"), t.module(i):
            with t.module("conv1"):
                y = t.conv(x, d, d1, 3, n, bias=False)
            with t.module("norm1"):
                y = t.group_norm(y, d1, GROUPS)
            y = t.act(y, "relu")
            with t.module("conv2"):
                y = t.conv(y, d1, d1, 3, n, bias=False)
            with t.module("norm2"):
                y = t.group_norm(y, d1, GROUPS)
            maps.append(t.act(y, "relu"))
    last = hws[-1]
    return _weighted_sum_train(t, maps, d1 * last[0] * last[1])


def merged_head_train(
    t: Tape, xs: list[Sym], dims: tuple[int, ...], num_classes: int, *, hws: tuple[Hw, ...]
) -> Sym:
    """Training twin of :class:`MergedHead`."""
    d1 = dims[0]
    maps = []
    for i, (x, d) in enumerate(zip(xs, dims, strict=True)):
        with t.module("projs"), t.module(i):
            if i == 0:
                maps.append(t.group_norm(x, d1, GROUPS))
                continue
            with t.module("norm1"):
                y = t.group_norm(x, d, GROUPS)
            with t.module("fc"):
                y = t.linear(y, d, d1)
            with t.module("norm2"):
                maps.append(t.group_norm(y, d1, GROUPS))
    last = hws[-1]
    out = _weighted_sum_train(t, maps, d1 * last[0] * last[1])
    with t.module("norm"):
        out = t.layer_norm(out, d1)
    out = t.copy(out, d1)  # mean over the tokens
    with t.module("head"):
        return t.linear(out, d1, num_classes)
