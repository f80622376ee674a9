"""Counting conventions of published task-model figures, computed from the task model's tree
(``profile --task ... --convention NAME``; a shown one is printed next to ours).

HRViT (Gu et al., CVPR 2022) publishes no counting script. Counting one of the two attention
matmuls of every block (Q.K^T or A.V, which cost the same) reproduces all six of its figures,
the 224 classification rows and the ADE20K 512x512 rows with SegFormer's head, within 1%;
counting both (ours) is 4-8% above them.
"""

from __future__ import annotations

from hirisearch.cost.types import Cost, CostNode
from hirisearch.models.base import Convention
from hirisearch.tasks.model import TaskPlan, cost_task


def one_attention_matmul(node: CostNode) -> CostNode:
    """``node`` with half its attention MACs (and their outputs) at every path."""
    memo: dict[int, CostNode] = {}

    def halve(n: CostNode) -> CostNode:
        hit = memo.get(id(n))
        if hit is None:
            t = n.total
            hit = CostNode(
                Cost(t.params, t.conv, t.linear, t.attn // 2, t.other, t.norm, t.acts),
                tuple((name, halve(sub)) for name, sub in n.children),
                n.out_shape,
            )
            memo[id(n)] = hit
        return hit

    return halve(node)


def _hrvit(plan: TaskPlan) -> CostNode:
    return one_attention_matmul(cost_task(plan))


#: Backbone family -> the conventions its task models' published figures are counted in.
TASK_CONVENTIONS: dict[str, tuple[Convention, ...]] = {
    "hrvit": (
        Convention(
            "hrvit",
            "GFLOPs as HRViT published them: one of the two attention matmuls counted",
            _hrvit,
        ),
    ),
}
