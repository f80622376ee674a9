"""ViTDet's simple feature pyramid as a task part (``sfp``): :mod:`hirisearch.layers.sfp` on the
last (for a plain ViT: the only) level of a backbone's pyramid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from hirisearch.cost.types import CostNode
from hirisearch.errors import SpecError
from hirisearch.layers.sfp import SCALES, sfp_cost, sfp_levels, sfp_train
from hirisearch.lazy import LazyCallable
from hirisearch.tasks.parts import Part, PartConfig
from hirisearch.tasks.pyramid import Hw, Level, Pyramid
from hirisearch.train.tape import Sym, Tape


class SFPConfig(PartConfig):
    """ViTDet's settings: ``scale_factors`` of the input map, finest first (any of 4, 2, 1,
    0.5), LayerNorm after each output conv (``norm``), P6 by max-pool (``top_block``)."""

    out_channels: int = Field(256, ge=1)
    scale_factors: tuple[float, ...] = Field(SCALES, min_length=1)
    norm: Literal["ln", "bn", "gn"] | None = "ln"
    top_block: bool = True


@dataclass(frozen=True)
class SFPPlan:
    in_chs: int
    in_hw: Hw
    stride: int
    out_chs: int
    scales: tuple[float, ...]
    norm: Literal["ln", "bn", "gn"] | None
    top_block: bool
    out: Pyramid


def plan_sfp(config: SFPConfig, pyramid: Pyramid, img_hw: Hw) -> SFPPlan:
    """The pyramid of ``config.scale_factors`` of the last level of ``pyramid``."""
    src = pyramid[-1]
    scales = tuple(float(s) for s in config.scale_factors)
    if not set(scales) <= set(SCALES):
        raise SpecError(
            f"every scale factor must be one of {list(SCALES)}, but got {list(scales)}",
            field="neck.scale_factors",
        )
    if list(scales) != sorted(set(scales), reverse=True):
        raise SpecError(
            f"`scale_factors` must be distinct and finest first, but got {list(scales)}",
            field="neck.scale_factors",
        )
    if any(src.channels % int(s) for s in scales if s > 1):
        raise SpecError(
            f"the input's channels ({src.channels}) must divide by every upsampling scale, "
            f"but got scale_factors={list(scales)}",
            field="neck.scale_factors",
        )
    levels = sfp_levels(src.channels, src.hw, src.stride, scales)
    out = [Level(config.out_channels, g, max(1, int(src.stride / s))) for _, s, _, g in levels]
    if config.top_block:
        last = out[-1]
        out.append(
            Level(config.out_channels, (-(-last.hw[0] // 2), -(-last.hw[1] // 2)), 2 * last.stride)
        )
    return SFPPlan(
        in_chs=src.channels,
        in_hw=src.hw,
        stride=src.stride,
        out_chs=config.out_channels,
        scales=scales,
        norm=config.norm,
        top_block=config.top_block,
        out=tuple(out),
    )


def cost_sfp(plan: SFPPlan) -> CostNode:
    return sfp_cost(
        plan.in_chs,
        plan.out_chs,
        stride=plan.stride,
        scales=plan.scales,
        norm=plan.norm,
        hw=plan.in_hw,
    )


def conventions(plan: SFPPlan) -> tuple[str, ...]:
    p6 = ", P6 by max-pool" if plan.top_block else ""
    return (
        f"ViTDet simple feature pyramid from the stride-{plan.stride} map: scales "
        f"{list(plan.scales)}{p6}",
    )


def train_sfp(plan: SFPPlan, t: Tape, feats: list[Sym]) -> list[Sym]:
    return sfp_train(
        t,
        feats,
        plan.in_chs,
        plan.out_chs,
        stride=plan.stride,
        scales=plan.scales,
        norm=plan.norm,
        top_block=plan.top_block,
        hw=plan.in_hw,
    )


PART = Part(
    name="sfp",
    kind="neck",
    title="ViTDet's simple feature pyramid (deconvs / identity / max-pool of one map)",
    config=SFPConfig,
    plan=plan_sfp,
    cost=cost_sfp,
    build=LazyCallable("hirisearch.tasks.det_nn", "build_sfp"),
    conventions=conventions,
    train=train_sfp,
)
