"""A backbone family under a task, as a :class:`~hirisearch.models.base.Family`: what a search
space with ``task:`` searches (its candidates are whole task models, so budgets and objectives
read the whole model's cost).

The family keeps the backbone's name and spec type (the space's axes are the backbone spec's
fields); ``plan`` plans the task model at the preset's size, ``cost`` and ``build`` are the task
model's. Its ``train`` is None: a task model's training twin is per plan
(:func:`hirisearch.tasks.train.train_family`, with :func:`~hirisearch.tasks.train.train_tree`),
which the search's training metrics use (:func:`hirisearch.ops.search.metrics.train_cost_of`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hirisearch.models import get_family
from hirisearch.models.base import Family
from hirisearch.tasks.model import TaskPlan, build_task, cost_task, plan_task
from hirisearch.tasks.presets import TaskPreset


def task_family(family: Family, preset: TaskPreset) -> Family:
    """``family``'s backbones under ``preset``'s neck and head, planned at ``preset.img_size``
    (a size given to ``plan`` overrides it)."""

    def plan(spec: Any, img_size: Any = None) -> TaskPlan:
        return plan_task(spec, preset, img_size)

    return replace(
        family,
        title=f"{family.title} + {preset.name}",
        plan=plan,
        build=build_task,
        cost=cost_task,
        conventions=(),
        train=None,
        uncalled_stages=lambda plan: (),
        dense=None,
        pyramid=None,
    )


def family_of(plan: Any) -> Family:
    """The family that plans, costs and builds ``plan``: a task model's (a :class:`TaskPlan`)
    or the plan's own."""
    if isinstance(plan, TaskPlan):
        return task_family(get_family(plan.family), _preset_at(plan))
    return get_family(plan.family)


def _preset_at(plan: TaskPlan) -> TaskPreset:
    from hirisearch.tasks.presets import get_preset

    return replace(get_preset(plan.task), img_size=plan.img_hw)
