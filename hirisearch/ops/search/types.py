"""The types of a search space: axes, budgets, objectives, and the validated space itself.

:mod:`hirisearch.ops.search.space` reads and validates space files into these; every other search
module reads them. Nothing here imports torch or Optuna.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import ValidationError

from hirisearch.errors import SearchError as SearchError  # defined with the other errors
from hirisearch.errors import SpecError
from hirisearch.models import FAMILIES, Family
from hirisearch.spec.load import spec_error_from
from hirisearch.train.config import TrainConfig

Scalar = bool | int | float | str
Direction = Literal["minimize", "maximize"]
ExactMethod = Literal["auto", "enumerate", "sections"]


@dataclass(frozen=True)
class Axis:
    """One searched field: a dotted path into the spec and the values it may take."""

    path: str
    choices: tuple[Scalar, ...] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    is_int: bool = False

    @property
    def field(self) -> str:
        return f"axes.{self.path}"

    @property
    def finite(self) -> bool:
        return self.choices is not None or self.is_int or self.step is not None

    def values(self) -> tuple[Scalar, ...]:
        """Every value of a finite axis, in order (grid search and ``--dry-run``)."""
        if self.choices is not None:
            return self.choices
        assert self.low is not None and self.high is not None
        if self.is_int:
            step = int(self.step or 1)
            if self.log:  # a log-uniform integer axis: every integer in range
                step = 1
            return tuple(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            raise SpecError(
                "a float range without `step` has infinitely many values; grid search and "
                "--dry-run need `step` or `choices`",
                field=self.field,
            )
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return tuple(round(self.low + i * self.step, 12) for i in range(n))

    def size(self) -> float:
        return len(self.values()) if self.finite else math.inf

    def sample(self, rng: random.Random) -> Scalar:
        if self.finite:
            return rng.choice(self.values())
        assert self.low is not None and self.high is not None
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class BudgetSpec:
    """``metric`` must stay within ``[min, max]`` (either bound optional)."""

    metric: str
    max: float | None = None
    min: float | None = None


@dataclass(frozen=True)
class ObjectiveSpec:
    """Minimise or maximise one named objective (a registry name or ``module:function``)."""

    name: str
    direction: Direction


@dataclass(frozen=True)
class PrunerSpec:
    """The space's ``pruner:``: an Optuna pruner's name and its keyword options."""

    name: Literal["none", "median", "hyperband"] = "none"
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ProxySettings:
    """Input of the training-free proxies: a random batch at ``img_size`` (None: the spec's)."""

    img_size: int | None = 224
    batch: int = 8


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space. ``base`` is the base spec as a plain mapping."""

    file: str
    family: Family
    base: Mapping[str, Any]
    axes: tuple[Axis, ...]
    budgets: tuple[BudgetSpec, ...]
    objectives: tuple[ObjectiveSpec, ...]
    strategy: str
    trials: int
    seed: int
    proxy: ProxySettings = field(default_factory=ProxySettings)
    base_file: str | None = None
    #: The device predicted latency is for (its calibration: ``hirisearch calibrate``).
    device: str = "cpu"
    #: Stops unpromising trials of objectives that report progress (``report``/``should_prune``).
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    #: ``strategy: exact``'s method: ``auto`` (by estimated cost), ``enumerate`` or ``sections``.
    exact_method: ExactMethod = "auto"
    #: The training step ``train_gmacs`` and ``train_mem_gb`` cost (the space file's ``train:``).
    train: TrainConfig = field(default_factory=TrainConfig)
    #: The space file's ``task:`` preset (at the space's size): ``family`` is then the backbone
    #: family under it (:func:`hirisearch.tasks.family.task_family`).
    task: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Families hold functions that do not pickle; worker processes look the family up by name.
        return (
            _rebuild_space,
            (self.family.name, self.file, dict(self.base), self.axes, self.budgets,
             self.objectives, self.strategy, self.trials, self.seed, self.proxy, self.base_file,
             self.device, self.pruner, self.exact_method, self.train, self.task),
        )  # fmt: skip

    @property
    def size(self) -> float:
        """Number of configurations (``inf`` when an axis is continuous)."""
        return math.prod(a.size() for a in self.axes) if self.axes else 1

    def grid(self) -> Iterator[tuple[Scalar, ...]]:
        """Every configuration as a tuple of axis values, in axis order."""
        return itertools.product(*(a.values() for a in self.axes))

    def apply(self, values: Mapping[str, Scalar] | tuple[Scalar, ...]) -> dict[str, Any]:
        """The base spec's mapping with the axis values put in (base left untouched)."""
        if not isinstance(values, Mapping):
            values = dict(zip((a.path for a in self.axes), values, strict=True))
        return apply_values(self.base, values)

    def with_overrides(
        self, *, max_gmacs: float | None = None, img_size: int | None = None
    ) -> SearchSpace:
        """The space with ``--max-gflops`` / ``--res`` applied."""
        budgets, base, family, task = self.budgets, self.base, self.family, self.task
        if max_gmacs is not None:
            if not max_gmacs > 0:
                raise SpecError(f"--max-gflops must be > 0, but got {max_gmacs}")
            kept = [b for b in budgets if b.metric != "gmacs"]
            old = next((b for b in budgets if b.metric == "gmacs"), None)
            budgets = (*kept, BudgetSpec("gmacs", max_gmacs, old.min if old else None))
        if img_size is not None:
            if any(a.path == "img_size" for a in self.axes):
                raise SpecError(
                    "--res cannot override `img_size`: it is a searched axis of this space",
                    file=self.file,
                    field="axes.img_size",
                )
            base = {**base, "img_size": img_size}
            if self.task is not None:
                task = replace(self.task, img_size=(img_size, img_size))
                family = _under(FAMILIES[self.family.name], task)
            _validate_base(family, base, self.file, "img_size")
        return SearchSpace(
            self.file,
            family,
            base,
            self.axes,
            budgets,
            self.objectives,
            self.strategy,
            self.trials,
            self.seed,
            self.proxy,
            self.base_file,
            self.device,
            self.pruner,
            self.exact_method,
            self.train,
            task,
        )

    @property
    def code_objectives(self) -> tuple[str, ...]:
        """The objectives that name code to import (``module:function``)."""
        return tuple(o.name for o in self.objectives if ":" in o.name)


def _rebuild_space(family: str, *rest: Any) -> SearchSpace:
    task = rest[-1]
    return SearchSpace(rest[0], _under(FAMILIES[family], task), *rest[1:])


def _under(family: Family, task: Any) -> Family:
    """``family``, or its backbones under the task preset ``task``."""
    if task is None:
        return family
    from hirisearch.tasks.family import task_family

    return task_family(family, task)


# ------------------------------------------------------------------------- dotted paths
def _split(path: str) -> list[str]:
    return path.split(".")


def _index(container: Any, part: str) -> Any:
    if isinstance(container, list):
        if not part.isdigit():
            raise KeyError(f"expected a list index, but got {part!r}")
        i = int(part)
        if i >= len(container):
            raise KeyError(f"index {i} is out of range: the list has {len(container)} entries")
        return i
    if isinstance(container, dict):
        if part not in container:
            raise KeyError(f"no key {part!r}; keys here: {', '.join(map(str, container))}")
        return part
    raise KeyError(f"{part!r} goes into a {type(container).__name__}, which has no fields")


def apply_values(base: Mapping[str, Any], values: Mapping[str, Scalar]) -> dict[str, Any]:
    """Copy-on-write: only the containers on the axes' paths are copied."""
    out = dict(base)
    copied: set[int] = {id(out)}
    for path, value in values.items():
        parts = _split(path)
        node: Any = out
        for part in parts[:-1]:
            key = int(part) if isinstance(node, list) else part
            child = node[key]
            if id(child) not in copied:
                child = list(child) if isinstance(child, (list, tuple)) else dict(child)
                copied.add(id(child))
                node[key] = child
            node = child
        last = parts[-1]
        node[int(last) if isinstance(node, list) else last] = value
    return out


def _validate_base(family: Family, data: Mapping[str, Any], file: str, where: str) -> None:
    try:
        family.plan(family.spec_type.model_validate(data), None)
    except ValidationError as e:
        err = spec_error_from(e, file=None)
        raise SpecError(
            f"the base spec is invalid: {err.one_line()}", file=file, field=where
        ) from None
    except SpecError as e:
        raise SpecError(
            f"the base spec is invalid: {e.one_line()}", file=file, field=where
        ) from None
