"""UperNet as a task head (``upernet``): :mod:`hirisearch.layers.upernet` on a backbone's
pyramid, with mmsegmentation's auxiliary FCN head on one level (trained, never run at test)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, model_validator

from hirisearch.cost.types import CostNode
from hirisearch.errors import FieldError, SpecError
from hirisearch.layers.upernet import fcn_head_cost, fcn_head_train, upernet_cost, upernet_train
from hirisearch.lazy import LazyCallable
from hirisearch.tasks.held import held
from hirisearch.tasks.parts import Part, PartConfig
from hirisearch.tasks.pyramid import Hw, Pyramid
from hirisearch.train.tape import Sym, Tape


class UperNetConfig(PartConfig):
    """UperNet's settings (mmseg's ``UPerHead``; ``aux_*``: its ``FCNHead``)."""

    num_classes: int = Field(150, ge=1)
    channels: int = Field(512, ge=1)
    pool_scales: tuple[int, ...] = Field((1, 2, 3, 6), min_length=1)
    #: Hold the auxiliary FCN head (its params count, it does not run at test).
    auxiliary: bool = True
    aux_level: int = Field(2, ge=0)
    aux_channels: int = Field(256, ge=1)

    @model_validator(mode="after")
    def _check(self) -> UperNetConfig:
        if min(self.pool_scales) < 1:
            raise FieldError("pool_scales", f"must be >= 1, but got {self.pool_scales}")
        return self


@dataclass(frozen=True)
class UperNetPlan:
    in_chs: tuple[int, ...]
    in_hws: tuple[Hw, ...]
    channels: int
    pool_scales: tuple[int, ...]
    num_classes: int
    aux: tuple[int, Hw] | None  # the auxiliary head's input: channels and grid
    aux_level: int
    aux_channels: int


def plan_upernet(config: UperNetConfig, pyramid: Pyramid, img_hw: Hw) -> UperNetPlan:
    """UperNet on every level of ``pyramid`` (the PPM on the coarsest)."""
    if config.auxiliary and config.aux_level >= len(pyramid):
        raise SpecError(
            f"`aux_level < {len(pyramid)}` (the pyramid's levels) must hold, but got "
            f"{config.aux_level}",
            field="head.aux_level",
        )
    aux_lv = pyramid[config.aux_level] if config.auxiliary else None
    return UperNetPlan(
        in_chs=tuple(lv.channels for lv in pyramid),
        in_hws=tuple(lv.hw for lv in pyramid),
        channels=config.channels,
        pool_scales=config.pool_scales,
        num_classes=config.num_classes,
        aux=(aux_lv.channels, aux_lv.hw) if aux_lv is not None else None,
        aux_level=config.aux_level,
        aux_channels=config.aux_channels,
    )


def cost_upernet(plan: UperNetPlan, *, training: bool = False) -> CostNode:
    """The head's cost: ``decode`` (UperNet) and ``auxiliary`` (the FCN head): held (its params,
    no work) at inference, running in ``training``."""
    decode = upernet_cost(
        plan.in_chs,
        plan.in_hws,
        channels=plan.channels,
        pool_scales=plan.pool_scales,
        num_classes=plan.num_classes,
    )
    children = [("decode", decode)]
    if plan.aux is not None:
        aux = fcn_head_cost(
            plan.aux[0], plan.aux[1], channels=plan.aux_channels, num_classes=plan.num_classes
        )
        children.append(("auxiliary", aux if training else held(aux)))
    return CostNode.of(children, out_shape=decode.out_shape)


def train_cost_upernet(plan: UperNetPlan) -> CostNode:
    """The head's cost as it trains: the auxiliary head runs (mmseg trains it)."""
    return cost_upernet(plan, training=True)


def train_upernet(plan: UperNetPlan, t: Tape, feats: list[Sym]) -> list[Sym]:
    """Training twin of :class:`~hirisearch.tasks.upernet_nn.UperNet`: the decode head's logits
    and, with one, the auxiliary head's."""
    with t.module("decode"):
        outs = [
            upernet_train(
                t,
                feats,
                plan.in_chs,
                plan.in_hws,
                channels=plan.channels,
                pool_scales=plan.pool_scales,
                num_classes=plan.num_classes,
            )
        ]
    if plan.aux is not None:
        with t.module("auxiliary"):
            aux = fcn_head_train(
                t,
                feats[plan.aux_level],
                plan.aux[0],
                plan.aux[1],
                channels=plan.aux_channels,
                num_classes=plan.num_classes,
            )
        outs.append(aux)
    return outs


def conventions(plan: UperNetPlan) -> tuple[str, ...]:
    out = [
        f"UperNet: {plan.channels} channels, PPM scales {list(plan.pool_scales)}, logits at "
        "the finest level (the resize to the image has no MACs)"
    ]
    if plan.aux is not None:
        out.append(
            f"auxiliary FCN head on level {plan.aux_level}: in the params, not in the GFLOPs "
            "(it trains only: the training figures count it)"
        )
    return tuple(out)


PART = Part(
    name="upernet",
    kind="head",
    title="UperNet (PPM + FPN) with an auxiliary FCN head",
    config=UperNetConfig,
    plan=plan_upernet,
    cost=cost_upernet,
    build=LazyCallable("hirisearch.tasks.upernet_nn", "build_upernet"),
    conventions=conventions,
    train=train_upernet,
    train_cost=train_cost_upernet,
)
