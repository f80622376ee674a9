"""Panoptic FPN's semantic head as a task head (``semantic_fpn``):
:mod:`hirisearch.layers.fpn`'s ``semantic_fpn_cost`` on an FPN neck's pyramid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from hirisearch.cost.types import CostNode
from hirisearch.errors import SpecError
from hirisearch.layers.fpn import semantic_fpn_cost, semantic_fpn_train
from hirisearch.lazy import LazyCallable
from hirisearch.tasks.parts import Part, PartConfig
from hirisearch.tasks.pyramid import Hw, Pyramid
from hirisearch.train.tape import Sym, Tape

Norm = Literal["bn", "gn", "ln"] | None


class SemanticFPNConfig(PartConfig):
    """mmsegmentation's ``FPNHead``: ``channels`` per scale head, ``norm`` after each conv
    (Panoptic FPN: GroupNorm; mmsegmentation's configs: BatchNorm)."""

    num_classes: int = Field(150, ge=1)
    channels: int = Field(128, ge=1)
    norm: Norm = "gn"


@dataclass(frozen=True)
class SemanticFPNPlan:
    in_chs: tuple[int, ...]
    in_hws: tuple[Hw, ...]
    strides: tuple[int, ...]
    channels: int
    num_classes: int
    norm: Norm


def plan_semantic_fpn(config: SemanticFPNConfig, pyramid: Pyramid, img_hw: Hw) -> SemanticFPNPlan:
    """A scale head on every level of ``pyramid`` (strides doubling from the finest)."""
    strides = tuple(lv.stride for lv in pyramid)
    if any(b != 2 * a for a, b in zip(strides, strides[1:], strict=False)):
        raise SpecError(
            f"the levels' strides must double from level to level, but got {list(strides)}",
            field="head",
        )
    return SemanticFPNPlan(
        in_chs=tuple(lv.channels for lv in pyramid),
        in_hws=tuple(lv.hw for lv in pyramid),
        strides=strides,
        channels=config.channels,
        num_classes=config.num_classes,
        norm=config.norm,
    )


def cost_semantic_fpn(plan: SemanticFPNPlan) -> CostNode:
    return semantic_fpn_cost(
        plan.in_chs,
        plan.channels,
        plan.num_classes,
        strides=plan.strides,
        norm=plan.norm,
        in_hws=plan.in_hws,
    )


def conventions(plan: SemanticFPNPlan) -> tuple[str, ...]:
    norm = plan.norm.upper() if plan.norm else "no norm"
    return (
        f"semantic FPN head: {plan.channels} channels, {norm}, logits at stride "
        f"{plan.strides[0]} (the resize to the image has no MACs)",
    )


def train_semantic_fpn(plan: SemanticFPNPlan, t: Tape, feats: list[Sym]) -> Sym:
    return semantic_fpn_train(
        t,
        feats,
        plan.in_chs,
        plan.channels,
        plan.num_classes,
        strides=plan.strides,
        norm=plan.norm,
        in_hws=plan.in_hws,
    )


PART = Part(
    name="semantic_fpn",
    kind="head",
    title="Semantic FPN head (Panoptic FPN: scale heads summed, 1x1 classifier)",
    config=SemanticFPNConfig,
    plan=plan_semantic_fpn,
    cost=cost_semantic_fpn,
    build=LazyCallable("hirisearch.tasks.det_nn", "build_semantic_fpn"),
    conventions=conventions,
    train=train_semantic_fpn,
)
