"""The training twin of a task model (no torch): the backbone's dense form, the neck and the head
on one :class:`~hirisearch.train.tape.Tape`, at the built :class:`TaskModel`'s module paths.

A task model has a twin when its backbone family's ``train`` handles the dense plan and each part
has a ``train``; :func:`missing_twin` names what lacks one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hirisearch.models import get_family
from hirisearch.models.base import Family
from hirisearch.tasks.family import family_of
from hirisearch.tasks.model import TIMM_PREFIX, TaskPlan
from hirisearch.tasks.parts import get_part

__all__ = ["missing_twin", "train_family", "train_task"]


def missing_twin(plan: TaskPlan) -> str | None:
    """What of ``plan`` has no training twin (``"the vit backbone's dense form"``,
    ``"the head mask_rcnn"``),
    or None when the whole task model has one."""
    if plan.family.startswith(TIMM_PREFIX) or not get_family(plan.family).train_dense:
        return f"the {plan.family} backbone's dense form"
    uses = (("neck", plan.neck), ("head", plan.head))
    for kind, use in uses:
        if use is not None and get_part(use.part).train is None:
            return f"the {kind} {use.part}"
    return None


def train_task(plan: TaskPlan, t: Any) -> Any:
    """The forward pass of the task model ``plan`` on ``t``: ``head(neck(backbone(x)))``;
    returns the head's output(s)."""
    with t.module("backbone"):
        feats = get_family(plan.family).train(plan.backbone, t)
    feats = list(feats) if isinstance(feats, (list, tuple)) else [feats]
    if plan.neck is not None:
        with t.module("neck"):
            out = get_part(plan.neck.part).train(plan.neck.plan, t, feats)  # type: ignore[misc]
        feats = list(out) if isinstance(out, (list, tuple)) else [out]
    with t.module("head"):
        return get_part(plan.head.part).train(plan.head.plan, t, feats)  # type: ignore[misc]


def train_family(plan: TaskPlan) -> Family:
    """The task model's family (:func:`~hirisearch.tasks.family.family_of`) with its training
    twin: :func:`train_task`, and the backbone's uncalled stages under ``backbone.``."""
    backbone = get_family(plan.family)
    uncalled = tuple(f"backbone.{p}" for p in backbone.uncalled_stages(plan.backbone))
    return replace(family_of(plan), train=train_task, uncalled_stages=lambda p: uncalled)
