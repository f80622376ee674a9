"""The FPN neck as a task part (``fpn``): :mod:`hirisearch.layers.fpn` on a backbone's pyramid."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from hirisearch.cost.types import CostNode
from hirisearch.errors import SpecError
from hirisearch.layers.fpn import fpn_cost, fpn_out_hws, fpn_train
from hirisearch.lazy import LazyCallable
from hirisearch.tasks.parts import Part, PartConfig
from hirisearch.tasks.pyramid import Hw, Level, Pyramid
from hirisearch.train.tape import Sym, Tape


class FPNConfig(PartConfig):
    """mmdetection's ``FPN``: ``out_channels`` per level, ``num_outs`` levels (those beyond the
    backbone's max-pool the coarsest: 5 for Mask R-CNN, 4 for semantic FPN)."""

    out_channels: int = Field(256, ge=1)
    num_outs: int = Field(5, ge=1)


@dataclass(frozen=True)
class FPNPlan:
    in_chs: tuple[int, ...]
    in_hws: tuple[Hw, ...]
    out_chs: int
    num_outs: int
    out: Pyramid


def plan_fpn(config: FPNConfig, pyramid: Pyramid, img_hw: Hw) -> FPNPlan:
    """An FPN on every level of ``pyramid``."""
    if config.num_outs < len(pyramid):
        raise SpecError(
            f"`num_outs >= {len(pyramid)}` (the pyramid's levels) must hold, but got "
            f"num_outs={config.num_outs}",
            field="neck.num_outs",
        )
    in_hws = tuple(lv.hw for lv in pyramid)
    hws = fpn_out_hws(in_hws, config.num_outs)
    strides = [lv.stride for lv in pyramid]
    while len(strides) < len(hws):
        strides.append(2 * strides[-1])
    return FPNPlan(
        in_chs=tuple(lv.channels for lv in pyramid),
        in_hws=in_hws,
        out_chs=config.out_channels,
        num_outs=config.num_outs,
        out=tuple(Level(config.out_channels, hw, s) for hw, s in zip(hws, strides, strict=True)),
    )


def cost_fpn(plan: FPNPlan) -> CostNode:
    return fpn_cost(plan.in_chs, plan.out_chs, num_outs=plan.num_outs, in_hws=plan.in_hws)


def conventions(plan: FPNPlan) -> tuple[str, ...]:
    extra = plan.num_outs - len(plan.in_chs)
    pooled = f", {extra} more level(s) by max-pooling (no MACs)" if extra else ""
    return (f"FPN: {plan.out_chs} channels on {len(plan.in_chs)} backbone levels{pooled}",)


def train_fpn(plan: FPNPlan, t: Tape, feats: list[Sym]) -> list[Sym]:
    return fpn_train(
        t, feats, plan.in_chs, plan.out_chs, num_outs=plan.num_outs, in_hws=plan.in_hws
    )


PART = Part(
    name="fpn",
    kind="neck",
    title="FPN (lateral 1x1 + top-down + 3x3 output convs; extra levels by max-pool)",
    config=FPNConfig,
    plan=plan_fpn,
    cost=cost_fpn,
    build=LazyCallable("hirisearch.tasks.det_nn", "build_fpn"),
    conventions=conventions,
    train=train_fpn,
)
