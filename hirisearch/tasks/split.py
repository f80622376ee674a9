"""The backbone / neck / head split of a task model's cost: what ``--task`` outputs add
(:func:`task_split`: params and MACs of a forward; :func:`train_split`: training MACs of a
step, for ``bench --train --task``)."""

from __future__ import annotations

from collections.abc import Mapping
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


def _part_names(plan: TaskPlan) -> dict[str, str]:
    return {
        "backbone": plan.backbone.name,
        "neck": plan.neck.part if plan.neck is not None else "",
        "head": plan.head.part,
    }


def task_split(plan: TaskPlan, tree: CostNode, *, batch: int = 1) -> TaskSplit:
    """The split of ``tree`` (the task model's analytic cost) into its root's children."""
    total = tree.total.scaled(batch)
    names = _part_names(plan)
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


@dataclass(frozen=True)
class TrainPartShare:
    """One of ``backbone``, ``neck``, ``head`` in a training step: what it is, its params, the
    step's analytic training MACs in it (forward + backward + recomputation, whole batch) and
    their share of the step's."""

    part: str
    name: str
    params: int
    train_macs: int
    train_macs_share: float


@dataclass(frozen=True)
class TrainSplit:
    """A task model's preset, size (height, width) and the training step's per-part MACs."""

    task: str
    img_size: tuple[int, int]
    pyramid: str
    parts: tuple[TrainPartShare, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def train_split(
    plan: TaskPlan, tree: CostNode, macs: Mapping[str, Any], *, batch: int = 1
) -> TrainSplit:
    """The split of a training step of ``plan``: ``tree`` its training tree
    (:func:`hirisearch.tasks.train.train_tree`), ``macs`` its training MACs per sample at each
    module path (``TrainModel.macs_per_path``), scaled to ``batch``."""
    names = _part_names(plan)
    per_part = {part: macs[part].scaled(batch).total for part, _ in tree.children}
    total = sum(per_part.values())
    parts = tuple(
        TrainPartShare(
            part,
            names[part],
            node.total.params,
            per_part[part],
            per_part[part] / total if total else 0.0,
        )
        for part, node in tree.children
    )
    return TrainSplit(plan.task, plan.img_hw, describe(plan.pyramid), parts)
