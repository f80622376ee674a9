"""HRNet-style multi-resolution parts: the cross-resolution fusion block, the ResNet bottleneck and
the HRNet classification head (as used by HRNet-W* classifiers and HRViT).

Branch ``i`` runs at stride ``2^i`` relative to branch 0; every map size is given by the caller
(the plan), so nothing here recomputes geometry.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import ZERO, CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.norm_act import ActKind
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]


def _nonzero(children: list[tuple[str, CostNode]]) -> list[tuple[str, CostNode]]:
    """Children that do counted work or hold parameters (identities and resizes do neither)."""
    return [(name, node) for name, node in children if node.total != ZERO]


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
                down = conv_norm_act_cost(ic, ic, 2**d + 1, 2**d, groups=ic, hw=in_hws[j])
                proj = conv_norm_act_cost(ic, oc, 1, bias=True, hw=down.out_shape[1:])
                row.append((str(j), CostNode.of([("0", down), ("1", proj)])))
            elif d < 0:
                row.append((str(j), conv_norm_act_cost(ic, oc, 1, bias=True, hw=in_hws[j])))
        rows.append((str(i), CostNode.of(_nonzero(row), out_shape=(oc, *out_hws[i]))))
    paths = CostNode.of(_nonzero(rows))
    return CostNode.of(_nonzero([("paths", paths)]), out_shape=(out_chs[-1], *out_hws[-1]))


@lru_cache(maxsize=1024)
def bottleneck_cost(in_chs: int, planes: int, *, expansion: int = 4, hw: Hw) -> CostNode:
    """Cost twin of :class:`Bottleneck` on an ``hw`` map."""
    out = planes * expansion
    children = [
        ("conv1", conv_norm_act_cost(in_chs, planes, 1, act="relu", hw=hw)),
        ("conv2", conv_norm_act_cost(planes, planes, 3, act="relu", hw=hw)),
        ("conv3", conv_norm_act_cost(planes, out, 1, hw=hw)),
    ]
    if in_chs != out:
        children.append(("shortcut", conv_norm_act_cost(in_chs, out, 1, hw=hw)))
    return CostNode.of(children, out_shape=(out, *hw))


@lru_cache(maxsize=1024)
def hrnet_classifier_cost(
    in_chs: tuple[int, ...],
    head_chs: tuple[int, ...],
    *,
    expansion: int = 4,
    final_chs: int = 2048,
    num_classes: int = 1000,
    hws: tuple[Hw, ...],
) -> CostNode:
    """Cost twin of :class:`HRNetClassifier` on branch maps of sizes ``hws``."""
    wide = [c * expansion for c in head_chs]
    incre = CostNode.of(
        [
            (str(i), bottleneck_cost(c, h, expansion=expansion, hw=hw))
            for i, (c, h, hw) in enumerate(zip(in_chs, head_chs, hws, strict=True))
        ]
    )
    children = [("incre", incre)]
    if len(wide) > 1:
        down = [
            (
                str(i),
                conv_norm_act_cost(wide[i], wide[i + 1], 3, 2, bias=True, act="relu", hw=hws[i]),
            )
            for i in range(len(wide) - 1)
        ]
        children.append(("downsamp", CostNode.of(down)))
    children.append(
        (
            "final",
            conv_norm_act_cost(wide[-1], final_chs, 1, bias=True, act="relu", hw=hws[-1]),
        )
    )
    if num_classes:
        children.append(("fc", CostNode.leaf(P.linear(final_chs, num_classes, 1))))
    return CostNode.of(children, out_shape=(num_classes or final_chs,))


def hr_fusion_train(
    t: Tape,
    xs: list[Sym],
    in_chs: tuple[int, ...],
    out_chs: tuple[int, ...],
    in_hws: tuple[Hw, ...],
    out_hws: tuple[Hw, ...],
    *,
    act: ActKind = "gelu",
) -> list[Sym]:
    """Training twin of :class:`HRFusion`."""
    outs = []
    for i, oc in enumerate(out_chs):
        total: Sym | None = None
        for j, (x, ic) in enumerate(zip(xs, in_chs, strict=True)):
            d = i - j
            with t.module("paths"), t.module(i), t.module(j):
                if d > 0:
                    with t.module(0):
                        y, hw = conv_norm_act_train(
                            t, x, ic, ic, 2**d + 1, 2**d, groups=ic, hw=in_hws[j]
                        )
                    with t.module(1):
                        y, _ = conv_norm_act_train(t, y, ic, oc, 1, bias=True, hw=hw)
                elif d < 0:
                    y, _ = conv_norm_act_train(t, x, ic, oc, 1, bias=True, hw=in_hws[j])
                    y = t.copy(y, oc * out_hws[i][0] * out_hws[i][1])  # nearest up-sampling
                else:
                    y = x
            total = y if total is None else t.add(total, y)
        assert total is not None
        with t.module("acts"), t.module(i):
            outs.append(t.act(total, act))
    return outs


def bottleneck_train(
    t: Tape, x: Sym, in_chs: int, planes: int, *, expansion: int = 4, hw: Hw
) -> Sym:
    """Training twin of :class:`Bottleneck`."""
    out = planes * expansion
    with t.module("conv1"):
        y, _ = conv_norm_act_train(t, x, in_chs, planes, 1, act="relu", hw=hw)
    with t.module("conv2"):
        y, _ = conv_norm_act_train(t, y, planes, planes, 3, act="relu", hw=hw)
    with t.module("conv3"):
        y, _ = conv_norm_act_train(t, y, planes, out, 1, hw=hw)
    if in_chs != out:
        with t.module("shortcut"):
            x, _ = conv_norm_act_train(t, x, in_chs, out, 1, hw=hw)
    with t.module("act"):
        return t.act(t.add(y, x), "relu")


def hrnet_classifier_train(
    t: Tape,
    xs: list[Sym],
    in_chs: tuple[int, ...],
    head_chs: tuple[int, ...],
    *,
    expansion: int = 4,
    final_chs: int = 2048,
    num_classes: int = 1000,
    hws: tuple[Hw, ...],
) -> Sym:
    """Training twin of :class:`HRNetClassifier`."""
    wide = [c * expansion for c in head_chs]
    with t.module("incre"), t.module(0):
        y = bottleneck_train(t, xs[0], in_chs[0], head_chs[0], expansion=expansion, hw=hws[0])
    for i in range(len(wide) - 1):
        with t.module("incre"), t.module(i + 1):
            nxt = bottleneck_train(
                t, xs[i + 1], in_chs[i + 1], head_chs[i + 1], expansion=expansion, hw=hws[i + 1]
            )
        with t.module("downsamp"), t.module(i):
            y, _ = conv_norm_act_train(
                t, y, wide[i], wide[i + 1], 3, 2, bias=True, act="relu", hw=hws[i]
            )
        y = t.add(nxt, y)
    with t.module("final"):
        y, _ = conv_norm_act_train(t, y, wide[-1], final_chs, 1, bias=True, act="relu", hw=hws[-1])
    y = t.copy(y, final_chs)  # mean over the map
    if num_classes:
        with t.module("fc"):
            y = t.linear(y, final_chs, num_classes)
    return y
