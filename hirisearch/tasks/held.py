"""Modules a task model holds but does not run in its forward (training-only heads)."""

from __future__ import annotations

from hirisearch.cost.types import Cost, CostNode


def held(node: CostNode) -> CostNode:
    """``node`` with its parameters and no work: a module the forward never calls (UperNet's
    auxiliary FCN head counts in the model's params, as mmseg's ``get_flops`` counts them, and
    not in its MACs)."""
    return CostNode(
        Cost(params=node.total.params),
        tuple((name, held(sub)) for name, sub in node.children),
        node.out_shape,
    )
