"""The backbone / neck / head split of a task model's cost: what ``--task`` outputs add."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hirisearch.cost.types import CostNode
from hirisearch.tasks.model import TaskPlan
from hirisearch.tasks.pyramid import describe


@dataclass(frozen=True)
class PartShare:
    """One of ``backbone``, ``neck``, ``head``: what it is, its params and MACs (for the batch)
    and its shares of the whole model's."""

    part: str
    name: str
    params: int
    macs: int
    params_share: float
    macs_share: float


@dataclass(frozen=True)
class TaskSplit:
    """A task model's preset, size (height, width), conventions and per-part costs."""

    task: str
    img_size: tuple[int, int]
    pyramid: str
    conventions: tuple[str, ...]
    parts: tuple[PartShare, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def task_split(plan: TaskPlan, tree: CostNode, *, batch: int = 1) -> TaskSplit:
    """The split of ``tree`` (the task model's analytic cost) into its root's children."""
    total = tree.total.scaled(batch)
    names = {
        "backbone": plan.backbone.name,
        "neck": plan.neck.part if plan.neck is not None else "",
        "head": plan.head.part,
    }
    parts = []
    for part, node in tree.children:
        cost = node.total.scaled(batch)
        parts.append(
            PartShare(
                part,
                names[part],
                cost.params,
                cost.macs,
                cost.params / total.params if total.params else 0.0,
                cost.macs / total.macs if total.macs else 0.0,
            )
        )
    return TaskSplit(plan.task, plan.img_hw, describe(plan.pyramid), plan.conventions, tuple(parts))
