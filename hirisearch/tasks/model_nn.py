"""The ``nn.Module`` half of :mod:`hirisearch.tasks.model` (imported only when a model is built)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hirisearch.models import get_family
from hirisearch.tasks.model import TaskPlan
from hirisearch.tasks.parts import get_part


class TaskModel(nn.Module):
    """``head(neck(backbone(x)))``: the backbone's dense form returns one map per level."""

    def __init__(self, backbone: nn.Module, neck: nn.Module | None, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        if neck is not None:
            self.neck = neck
        self.head = head

    def forward(self, x: torch.Tensor) -> Any:
        feats = self.backbone(x)
        if hasattr(self, "neck"):
            feats = self.neck(feats)
        return self.head(feats)


def build_task(plan: TaskPlan, *, device: Any = None, dtype: Any = None) -> TaskModel:
    """Build the task model described by ``plan``."""
    dd = {"device": device, "dtype": dtype}
    backbone = get_family(plan.family).build(plan.backbone, **dd)
    neck = None
    if plan.neck is not None:
        neck = get_part(plan.neck.part).build(plan.neck.plan, **dd)
    head = get_part(plan.head.part).build(plan.head.plan, **dd)
    return TaskModel(backbone, neck, head)
