"""Pruners: the space's ``pruner:`` field and the Optuna pruner it selects.

``pruner: median`` or ``pruner: {name: median, n_warmup_steps: 2}``; options are Optuna's keyword
names. A pruner stops trials whose objective reports progress (``trial.report``) and looks worse
than the others' at the same step; Optuna prunes single-objective studies only.
Nothing here imports Optuna at module level: reading a space must not.
"""

from __future__ import annotations

from typing import Any

from hirisearch.errors import SpecError
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


def parse_pruner(raw: Any, file: str, n_objectives: int) -> PrunerSpec:
    """``pruner: median`` or ``pruner: {name: median, n_warmup_steps: 2}``."""
    if raw is None:
        return PrunerSpec()
    data = {"name": raw} if isinstance(raw, str) else raw
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise SpecError(
            f"expected a pruner name or a mapping with `name` and options, but got {_short(raw)}",
            file=file,
            field="pruner",
        )
    name = data["name"]
    if name not in PRUNERS:
        raise SpecError(
            f"unknown pruner {_short(name)}; valid: {', '.join(PRUNERS)}",
            file=file,
            field="pruner.name",
        )
    valid = PRUNERS[name]
    options = []
    for key, value in data.items():
        if key == "name":
            continue
        if key not in valid:
            raise SpecError(
                f"unknown option of pruner {name}; valid: {', '.join(valid) or 'none'}",
                file=file,
                field=f"pruner.{key}",
            )
        low, auto = valid[key]
        if not (auto and value == "auto") and (
            isinstance(value, bool) or not isinstance(value, int) or value < low
        ):
            raise SpecError(
                f"must be an integer >= {low}{' or `auto`' if auto else ''}, but got "
                f"{_short(value)}",
                file=file,
                field=f"pruner.{key}",
            )
        options.append((str(key), value))
    if name != "none" and n_objectives != 1:
        raise SpecError(
            f"pruner {name} needs exactly one objective (Optuna prunes single-objective studies "
            f"only), but the space has {n_objectives}",
            file=file,
            field="pruner",
        )
    return PrunerSpec(name, tuple(options))  # type: ignore[arg-type]


def make_pruner(space: SearchSpace) -> Any:
    """The Optuna pruner of the space's ``pruner:`` (``NopPruner`` for ``none``)."""
    import optuna

    options = dict(space.pruner.options)
    if space.pruner.name == "median":
        return optuna.pruners.MedianPruner(**options)
    if space.pruner.name == "hyperband":
        return optuna.pruners.HyperbandPruner(**options)
    return optuna.pruners.NopPruner()
