"""Spec files: a model family's YAML spec, planned and costed analytically (no torch), built
from the same plan (the family's ``*_nn`` module imports torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hirisearch.errors import SpecError
from hirisearch.models import Family, get_family
from hirisearch.models.base import Convention, SpecBase
from hirisearch.models.resolution import as_hw
from hirisearch.spec import load_spec
from hirisearch.targets.core import SizedTarget, Target

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class SpecSource:
    """A spec and its family: the plan at a size, the analytic tree of the plan, the model."""

    spec: SpecBase
    model_family: Family

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def conventions(self) -> tuple[Convention, ...]:
        return self.model_family.conventions

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        """Plan and cost the model; errors name the spec file (``target.ref``)."""
        try:
            plan = self.model_family.plan(self.spec, img_size)
        except SpecError as e:
            raise e.located(target.ref) from None
        return SizedTarget(
            target,
            img_size=as_hw(plan.img_size),
            input_shape=tuple(plan.input_shape),
            plan=plan,
            tree=self.model_family.cost(plan),
        )

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> nn.Module:
        return self.model_family.build(sized.plan, device=device, dtype=dtype)

    def out_grid(self, sized: SizedTarget) -> tuple[int, int] | None:
        """The plan's ``out_grid``, its last stage's grid, or else the output grid of the last
        section whose output is a ``(C, H, W)`` map in the cost tree."""
        plan = sized.plan
        grid = getattr(plan, "out_grid", None)
        if grid is None and getattr(plan, "stages", None) and hasattr(plan.stages[-1], "hw"):
            grid = plan.stages[-1].hw
        if grid is None and sized.tree is not None:
            for _, path in reversed(plan.sections):
                shape = sized.tree.child(path).out_shape
                if len(shape) == 3:
                    grid = shape[1:]
                    break
        return tuple(grid) if grid is not None else None  # type: ignore[return-value]


def target_from_spec(spec: SpecBase, ref: str) -> Target:
    """The :class:`Target` of a loaded spec; ``ref`` names it in errors (usually its file)."""
    return Target(ref, SpecSource(spec, get_family(spec.family)))


def source(ref: str) -> SpecSource:
    """The source of the spec file ``ref`` (the registry's entry point for this kind)."""
    spec = load_spec(ref)
    return SpecSource(spec, get_family(spec.family))
