"""What every model family provides: a spec type, a planner, a builder and an analytic cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from torch import nn

from hirisearch.cost.types import CostNode


class SpecBase(BaseModel):
    """Base of every family's spec: frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, validate_default=True)

    family: str
    name: str
    description: str = ""
    img_size: int = 224


class ModelPlan(Protocol):
    """Every derived number of one model at one input size. Frozen dataclasses implement this."""

    name: str
    family: str
    img_size: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one input sample."""
        ...

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        """(label, module path) of the top-level parts shown in the per-stage table, in order."""
        ...


@dataclass(frozen=True)
class Convention:
    """Another project's counting path, computed analytically from a plan (e.g. PIIP's own).

    ``cost(plan)`` returns a cost tree whose top-level children carry the plan's section paths;
    its counts follow that project's rules, which ``description`` states in one line.
    """

    name: str
    description: str
    cost: Callable[[Any], CostNode]


@dataclass(frozen=True)
class Family:
    """A model family: ``spec -> plan(spec, img_size) -> (build(plan), cost(plan))``."""

    name: str
    title: str
    spec_type: type[SpecBase]
    plan: Callable[[Any, int | None], Any]
    build: Callable[..., nn.Module]
    cost: Callable[[Any], CostNode]
    #: Input sizes the parity tests check every shipped spec of this family at.
    test_sizes: Callable[[Any], tuple[int, ...]] = lambda spec: (224, 448)
    #: A small input size for real forward passes in tests.
    forward_size: Callable[[Any], int] = lambda spec: 64
    #: Other counting conventions this family can report besides ours (``--convention NAME``).
    conventions: tuple[Convention, ...] = ()
    #: A few small configurations of this family (specs built by keyword, each planned at its own
    #: ``img_size``) whose whole networks calibrate the latency predictor; none: not calibrated on.
    latency_specs: Callable[[], tuple[Any, ...]] = lambda: ()
