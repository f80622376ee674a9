"""Pruners: the space's ``pruner:`` field and the Optuna pruner it selects.

``pruner: median`` or ``pruner: {name: median, n_warmup_steps: 2}``; options are Optuna's keyword
names. A pruner stops trials whose objective reports progress (``trial.report``) and looks worse
than the others' at the same step; Optuna prunes single-objective studies only.
Nothing here imports Optuna at module level: reading a space must not.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PlainValidator, model_validator

from hirisearch.errors import FieldError
from hirisearch.ops.search.types import PrunerSpec, SearchSpace
from hirisearch.spec.load import _short

#: Options of each pruner (Optuna's keyword names): (minimum, whether ``auto`` is accepted).
PRUNERS: dict[str, dict[str, tuple[int, bool]]] = {
    "none": {},
    "median": {
        "n_startup_trials": (0, False),
        "n_warmup_steps": (0, False),
        "interval_steps": (1, False),
        "n_min_trials": (1, False),
    },
    "hyperband": {
        "min_resource": (1, False),
        "max_resource": (1, True),
        "reduction_factor": (2, False),
    },
}


def _pruner_name(v: Any) -> str:
    if not isinstance(v, str) or v not in PRUNERS:
        raise FieldError("", f"unknown pruner {_short(v)}; valid: {', '.join(PRUNERS)}")
    return v


class PrunerFile(BaseModel):
    """``pruner: median`` or ``pruner: {name: median, n_warmup_steps: 2}`` in a space file."""

    model_config = ConfigDict(extra="allow", frozen=True)
    expected: ClassVar[str] = "a pruner name or a mapping with `name` and options"
    name: Annotated[str, PlainValidator(_pruner_name)]

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _options(self) -> PrunerFile:
        valid = PRUNERS[self.name]
        for key, value in (self.model_extra or {}).items():
            if key not in valid:
                raise FieldError(
                    str(key),
                    f"unknown option of pruner {self.name}; valid: {', '.join(valid) or 'none'}",
                )
            low, auto = valid[key]
            if not (auto and value == "auto") and (
                isinstance(value, bool) or not isinstance(value, int) or value < low
            ):
                raise FieldError(
                    str(key),
                    f"must be an integer >= {low}{' or `auto`' if auto else ''}, but got "
                    f"{_short(value)}",
                )
        return self

    def spec(self) -> PrunerSpec:
        options = tuple((str(k), v) for k, v in (self.model_extra or {}).items())
        return PrunerSpec(self.name, options)  # type: ignore[arg-type]


def make_pruner(space: SearchSpace) -> Any:
    """The Optuna pruner of the space's ``pruner:`` (``NopPruner`` for ``none``)."""
    import optuna

    options = dict(space.pruner.options)
    if space.pruner.name == "median":
        return optuna.pruners.MedianPruner(**options)
    if space.pruner.name == "hyperband":
        return optuna.pruners.HyperbandPruner(**options)
    return optuna.pruners.NopPruner()
