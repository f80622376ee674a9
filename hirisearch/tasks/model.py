"""A task model: a backbone in dense form, an optional neck and a head (``--task PRESET``).

``plan_task(spec, preset, img_size)`` plans the backbone's dense form at the task's size (the
family's ``dense_spec``, ``plan`` and ``dense``), reads the pyramid it outputs (``pyramid``) and
plans the neck on it and the head on what the neck hands on. ``cost_task(plan)`` is a cost tree
whose root has exactly the children ``backbone``, ``neck`` (absent without one) and ``head``,
and :class:`~hirisearch.tasks.model_nn.TaskModel` has the same children, so traced module paths
equal the analytic paths (``backbone.layers.0...``, ``head.fpn_convs.0...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hirisearch.cost.types import CostNode
from hirisearch.errors import SpecError
from hirisearch.lazy import LazyCallable
from hirisearch.models import get_family
from hirisearch.models.base import SpecBase
from hirisearch.tasks.parts import get_part
from hirisearch.tasks.presets import TaskPreset, get_preset
from hirisearch.tasks.pyramid import Hw, Pyramid

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class PartUse:
    """A neck or head of a task model: the part's name, its settings and its plan."""

    part: str
    config: Any
    plan: Any

    @property
    def conventions(self) -> tuple[str, ...]:
        return get_part(self.part).conventions(self.plan)


@dataclass(frozen=True)
class TaskPlan:
    """Every derived number of a task model: the backbone's dense plan, the pyramid it outputs,
    and the neck's and head's plans. ``family`` is the backbone's family."""

    name: str
    family: str
    task: str
    img_hw: Hw
    backbone: Any
    pyramid: Pyramid
    neck: PartUse | None
    head: PartUse
    preset_conventions: tuple[str, ...] = ()

    @property
    def img_size(self) -> Any:
        return self.backbone.img_size

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.backbone.input_shape)

    @property
    def parts(self) -> tuple[str, ...]:
        """The root's children, in order: ``backbone``, ``neck`` (with one), ``head``."""
        return ("backbone", "neck", "head") if self.neck is not None else ("backbone", "head")

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        return tuple((p, p) for p in self.parts)

    @property
    def conventions(self) -> tuple[str, ...]:
        """What the task's figures count: the preset's statements, then each part's."""
        own = self.neck.conventions if self.neck is not None else ()
        return (*self.preset_conventions, *own, *self.head.conventions)


def dense_backbone(spec: SpecBase, img_hw: Hw) -> tuple[Any, Pyramid]:
    """The dense-form plan of ``spec``'s backbone at ``img_hw`` and the pyramid it outputs.

    Raises:
        SpecError: the family has no dense form.
    """
    family = get_family(spec.family)
    if family.dense is None or family.pyramid is None:
        raise SpecError(
            f"the {family.name} family has no dense form (a feature pyramid), so it cannot be "
            "put under a task head",
            field="family",
        )
    plan = family.dense(family.plan(family.dense_spec(spec), img_hw))
    return plan, family.pyramid(plan)


def _use(
    name: str, kind: str, settings: Mapping[str, Any], pyramid: Pyramid, img_hw: Hw
) -> PartUse:
    part = get_part(name, kind)  # type: ignore[arg-type]
    try:
        config = part.config.model_validate(dict(settings))
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise SpecError(err["msg"], field=f"{kind}.{where}" if where else kind) from None
    return PartUse(name, config, part.plan(config, pyramid, img_hw))


def plan_task(spec: SpecBase, task: str | TaskPreset, img_size: Hw | int | None = None) -> TaskPlan:
    """Plan ``spec``'s backbone under the task ``task`` at ``img_size`` (``None``: the
    preset's; an int: square)."""
    preset = get_preset(task) if isinstance(task, str) else task
    img_hw: Hw
    if img_size is None:
        img_hw = preset.img_size
    elif isinstance(img_size, int):
        img_hw = (img_size, img_size)
    else:
        img_hw = (img_size[0], img_size[1])
    backbone, pyramid = dense_backbone(spec, img_hw)  # type: ignore[arg-type]
    neck = None
    levels = pyramid
    if preset.neck is not None:
        neck = _use(preset.neck[0], "neck", preset.neck[1], pyramid, img_hw)  # type: ignore[arg-type]
        levels = neck.plan.out
    head = _use(preset.head[0], "head", preset.head[1], levels, img_hw)  # type: ignore[arg-type]
    return TaskPlan(
        name=f"{spec.name}+{preset.name}",
        family=spec.family,
        task=preset.name,
        img_hw=img_hw,  # type: ignore[arg-type]
        backbone=backbone,
        pyramid=pyramid,
        neck=neck,
        head=head,
        preset_conventions=preset.conventions,
    )


def cost_task(plan: TaskPlan) -> CostNode:
    """The task model's cost tree: root children ``backbone``, ``neck`` (with one), ``head``."""
    children = [("backbone", get_family(plan.family).cost(plan.backbone))]
    if plan.neck is not None:
        children.append(("neck", get_part(plan.neck.part).cost(plan.neck.plan)))
    children.append(("head", get_part(plan.head.part).cost(plan.head.plan)))
    return CostNode.of(children)


#: ``build_task(plan, *, device=None, dtype=None) -> TaskModel`` (imports torch).
build_task: Any = LazyCallable("hirisearch.tasks.model_nn", "build_task")


def build(plan: TaskPlan, *, device: Any = None, dtype: Any = None) -> nn.Module:
    """The task model of ``plan`` (imports torch)."""
    return build_task(plan, device=device, dtype=dtype)  # type: ignore[no-any-return]
