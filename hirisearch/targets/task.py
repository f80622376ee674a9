"""A spec target under a task's neck and head (``--task PRESET``, ``task=`` in the API).

:func:`with_task` wraps a spec target: its sized form plans the backbone's dense form, the neck
and the head (:func:`hirisearch.tasks.model.plan_task`), its tree is the task model's (root
children ``backbone``, ``neck``, ``head``) and it builds :class:`~hirisearch.tasks.model_nn.TaskModel`.
Without a size it takes the preset's. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hirisearch.errors import HirisearchError, SpecError
from hirisearch.models.base import Convention, SpecBase
from hirisearch.targets.core import SizedTarget, Target
from hirisearch.tasks.conventions import TASK_CONVENTIONS
from hirisearch.tasks.model import build_task, cost_task, plan_task
from hirisearch.tasks.presets import TaskPreset, get_preset

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class TaskSource:
    """A spec's backbone under ``preset``'s neck and head."""

    spec: SpecBase
    preset: TaskPreset

    @property
    def name(self) -> str:
        return f"{self.spec.name}+{self.preset.name}"

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def conventions(self) -> tuple[Convention, ...]:
        """How the published figures of this backbone's task models are counted (a family's own
        conventions cover its backbone alone)."""
        return TASK_CONVENTIONS.get(self.spec.family, ())

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        """Plan and cost the task model; errors name the spec file (``target.ref``)."""
        try:
            plan = plan_task(self.spec, self.preset, img_size)
        except SpecError as e:
            raise e.located(target.ref) from None
        return SizedTarget(
            target,
            img_size=plan.img_hw,
            input_shape=plan.input_shape,
            plan=plan,
            tree=cost_task(plan),
        )

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> nn.Module:
        return build_task(sized.plan, device=device, dtype=dtype)  # type: ignore[no-any-return]

    def out_grid(self, sized: SizedTarget) -> tuple[int, int] | None:
        """The grid of the head's output (a segmenter's logits: the finest level's)."""
        shape = sized.tree.out_shape if sized.tree is not None else ()
        return tuple(shape[1:]) if len(shape) == 3 else None  # type: ignore[return-value]


def with_task(target: Target, task: str | TaskPreset) -> Target:
    """``target`` (a spec target) under the task ``task`` (a preset or its name).

    Raises:
        HirisearchError: ``target`` is not a spec target, or its family has no dense form.
        UnknownModelError: no preset of that name.
    """
    preset = get_preset(task) if isinstance(task, str) else task
    spec = getattr(target.source, "spec", None)
    if not isinstance(spec, SpecBase):
        raise HirisearchError(
            f"{target.ref}: --task takes spec files (a backbone with an analytic dense form), "
            f"but got a {type(target.source).__name__}"
        )
    return Target(target.ref, TaskSource(spec, preset))
