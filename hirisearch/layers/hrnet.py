"""HRNet-style multi-resolution parts: the cross-resolution fusion block, the ResNet bottleneck and
the HRNet classification head (as used by HRNet-W* classifiers and HRViT).

Branch ``i`` runs at stride ``2^i`` relative to branch 0; every map size is given by the caller
(the plan), so nothing here recomputes geometry.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import ZERO, CostNode
from hirisearch.layers.conv import conv_norm_act_cost
from hirisearch.layers.norm_act import ActKind

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
