"""PIIP's cross-branch interaction: injectors and the interaction unit.

Z. Zhu et al., "Parameter-Inverted Image Pyramid Networks", NeurIPS 2024 (arXiv 2406.04330).

An :class:`Injector` with query width ``d`` updates the query tokens with what it reads from another
branch's (already projected) features::

    query += ca_gamma * Attn(LN(query), LN(feat))
    query += cffn_gamma * ConvFFN(LN(query))        # Linear(d -> d/4), dw 3x3, GELU, Linear(-> d)

``Attn`` is deformable cross-attention (``attn="deformable"``: reference points at the query-grid
centres, the paper's default) or regular multi-head cross-attention (``attn="cross"``: q/k/v
without bias and an output projection, the paper's ablation). Both gammas start at zero, so an
injector (and every interaction) is the identity at initialisation.

An :class:`InteractionUnit` joins branch ``a`` (bigger model, smaller grid) and branch ``b``. With
``update="both"`` (the paper's unit) both projections are computed from the features before either
branch is updated and both injectors run; ``update="a"`` only injects ``b`` into ``a`` (one
projection, one injector), ``update="b"`` the reverse: the one-way schemes of the paper's
interaction-direction ablation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.attention import cross_attention_cost
from hirisearch.layers.deformable import (
    deformable_cross_attention_cost,
    deformable_cross_attention_train,
)
from hirisearch.layers.mlp import mlp_cost, mlp_train
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]
#: Interaction attention: deformable (default) or regular cross-attention.
InteractionAttn = Literal["deformable", "cross"]
#: Which branch of a unit is updated: both, only ``a`` or only ``b``.
Update = Literal["both", "a", "b"]


@lru_cache(maxsize=1024)
def injector_cost(
    dim: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    cffn_ratio: float = 0.25,
    attn: InteractionAttn = "deformable",
    query_hw: Hw,
    feat_hw: Hw,
) -> CostNode:
    """Cost twin of :class:`Injector`."""
    nq = query_hw[0] * query_hw[1]
    nf = feat_hw[0] * feat_hw[1]
    if attn == "deformable":
        attn_node = deformable_cross_attention_cost(
            dim,
            num_heads=num_heads,
            num_points=num_points,
            value_ratio=value_ratio,
            query_hw=query_hw,
            feat_hw=feat_hw,
        )
    else:
        attn_node = cross_attention_cost(dim, num_heads, query_tokens=nq, feat_tokens=nf)
    return CostNode.of(
        [
            ("query_norm", CostNode.leaf(P.layer_norm(dim, dim * nq))),
            ("feat_norm", CostNode.leaf(P.layer_norm(dim, dim * nf))),
            ("attn", attn_node),
            ("ffn_norm", CostNode.leaf(P.layer_norm(dim, dim * nq))),
            ("ffn", mlp_cost(dim, int(dim * cffn_ratio), dw_conv=True, hw=query_hw)),
        ],
        own=P.param_only(2 * dim),
        out_shape=(nq, dim),
    )


@lru_cache(maxsize=1024)
def interaction_unit_cost(
    dim_a: int,
    dim_b: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    cffn_ratio: float = 0.25,
    attn: InteractionAttn = "deformable",
    update: Update = "both",
    a_hw: Hw,
    b_hw: Hw,
) -> CostNode:
    """Cost twin of :class:`InteractionUnit`."""
    kw = dict(
        num_heads=num_heads,
        num_points=num_points,
        value_ratio=value_ratio,
        cffn_ratio=cffn_ratio,
        attn=attn,
    )
    na, nb = a_hw[0] * a_hw[1], b_hw[0] * b_hw[1]
    children = []
    if update != "b":
        children.append(("b_to_a", CostNode.leaf(P.linear(dim_b, dim_a, nb))))
    if update != "a":
        children.append(("a_to_b", CostNode.leaf(P.linear(dim_a, dim_b, na))))
    if update != "b":
        children.append(("inject_a", injector_cost(dim_a, **kw, query_hw=a_hw, feat_hw=b_hw)))
    if update != "a":
        children.append(("inject_b", injector_cost(dim_b, **kw, query_hw=b_hw, feat_hw=a_hw)))
    return CostNode.of(children, out_shape=())


def injector_train(
    t: Tape,
    query: Sym,
    feat: Sym,
    dim: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    cffn_ratio: float = 0.25,
    query_hw: Hw,
    feat_hw: Hw,
) -> Sym:
    """Training twin of :class:`Injector`."""
    with t.module("query_norm"):
        q = t.layer_norm(query, dim)
    with t.module("feat_norm"):
        f = t.layer_norm(feat, dim)
    with t.module("attn"):
        attn = deformable_cross_attention_train(
            t,
            q,
            f,
            dim,
            num_heads=num_heads,
            num_points=num_points,
            value_ratio=value_ratio,
            query_hw=query_hw,
            feat_hw=feat_hw,
        )
    query = t.add(query, t.scale(attn, t.parameter(dim)))
    with t.module("ffn_norm"):
        h = t.layer_norm(query, dim)
    with t.module("ffn"):
        h = mlp_train(t, h, dim, int(dim * cffn_ratio), dw_conv=True, hw=query_hw)
    return t.add(query, t.scale(h, t.parameter(dim)))


def interaction_unit_train(
    t: Tape,
    xa: Sym,
    xb: Sym,
    dim_a: int,
    dim_b: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    cffn_ratio: float = 0.25,
    a_hw: Hw,
    b_hw: Hw,
) -> tuple[Sym, Sym]:
    """Training twin of :class:`InteractionUnit`."""
    kw = dict(
        num_heads=num_heads, num_points=num_points, value_ratio=value_ratio, cffn_ratio=cffn_ratio
    )
    with t.module("a_to_b"):
        pa = t.linear(xa, dim_a, dim_b)
    with t.module("b_to_a"):
        pb = t.linear(xb, dim_b, dim_a)
    with t.module("inject_a"):
        ya = injector_train(t, xa, pb, dim_a, query_hw=a_hw, feat_hw=b_hw, **kw)  # type: ignore[arg-type]
    with t.module("inject_b"):
        yb = injector_train(t, xb, pa, dim_b, query_hw=b_hw, feat_hw=a_hw, **kw)  # type: ignore[arg-type]
    return ya, yb
