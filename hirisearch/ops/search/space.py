"""Search spaces: a base spec, axes (dotted paths into it), budgets, objectives and a strategy.

A space file (``specs/search/*.yaml``)::

    base: ../hiri_vit/s.yaml          # a spec path (relative to this file) or an inline mapping
    img_size: 448                     # optional: override the base spec's input size
    axes:
      depths.3: {choices: [4, 6, 8]}  # choices
      dims.3: {low: 256, high: 384, step: 64}        # integer range (step defaults to 1)
      mlp_ratios.2: {low: 2.0, high: 8.0, step: 2.0} # float range (step or log optional)
    budgets:
      gmacs: {max: 5.0}
      params_m: {min: 5, max: 30}
    objectives:
      - minimize: params
      - maximize: naswot
    strategy: tpe
    trials: 500
    seed: 0
    pruner: {name: median, n_warmup_steps: 2}       # none (default), median or hyperband

Every problem is a :class:`SpecError` naming the file and the field (``axes.depths.3``).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hirisearch.errors import SpecError
from hirisearch.models import FAMILIES, Family
from hirisearch.ops.search.pruners import parse_pruner
from hirisearch.ops.search.types import (
    Axis,
    BudgetSpec,
    Direction,
    ObjectiveSpec,
    ProxySettings,
    PrunerSpec,
    Scalar,
    SearchSpace,
    _index,
    _split,
    _validate_base,
    apply_values,
)
from hirisearch.spec.load import _short, read_yaml, spec_error_from
from hirisearch.spec.shipped import locate

__all__ = [
    "Axis",
    "BudgetSpec",
    "Direction",
    "ObjectiveSpec",
    "PrunerSpec",
    "ProxySettings",
    "Scalar",
    "SearchSpace",
    "apply_values",
    "load_space",
    "parse_space",
]

#: Keys a space file may have.
SPACE_KEYS = (
    "base",
    "img_size",
    "axes",
    "budgets",
    "objectives",
    "strategy",
    "trials",
    "seed",
    "proxy",
    "device",
    "pruner",
    "description",
)
#: Devices a space's predicted latency may be for (the calibration's device).
DEVICES = ("cpu", "cuda")
#: Attempts at finding another axes' combination that accepts a value before it is refused.
_ACCEPT_TRIES = 32


def _check_path(family: Family, base: Mapping[str, Any], axis: str, file: str) -> None:
    parts = _split(axis)
    if not all(parts):
        raise SpecError("empty part in the dotted path", file=file, field=f"axes.{axis}")
    fields = family.spec_type.model_fields
    if parts[0] not in base:
        if parts[0] in fields and len(parts) == 1:
            return  # a top-level field left at its default (e.g. img_size)
        raise SpecError(
            f"{parts[0]!r} is not a field of the {family.name} spec; fields: "
            f"{', '.join(f for f in fields if f not in ('family', 'name', 'description'))}",
            file=file,
            field=f"axes.{axis}",
        )
    node: Any = base
    for k, part in enumerate(parts):
        if k == len(parts) - 1 and isinstance(node, dict) and part not in node:
            return  # a nested field left at its default; the spec type judges the values
        try:
            node = node[_index(node, part)]
        except KeyError as e:
            raise SpecError(
                f"path does not exist in the base spec: {e.args[0]}",
                file=file,
                field=f"axes.{axis}",
            ) from None
    if isinstance(node, (dict, list)):
        raise SpecError(
            f"path points at a {type(node).__name__}, not a single value; index into it "
            f"(e.g. `{axis}.0`)",
            file=file,
            field=f"axes.{axis}",
        )


# ----------------------------------------------------------------------------- parsing
def _is_scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, float, str)) and not (isinstance(v, float) and math.isnan(v))


def _number(v: Any, what: str, file: str, fld: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SpecError(
            f"`{what}` must be a finite number, but got {_short(v)}", file=file, field=fld
        )
    return v


def _parse_axis(path: Any, raw: Any, file: str) -> Axis:
    if not isinstance(path, str) or not path:
        raise SpecError(
            f"axis names must be dotted paths, but got {_short(path)}", file=file, field="axes"
        )
    fld = f"axes.{path}"
    if isinstance(raw, list):
        raw = {"choices": raw}
    if not isinstance(raw, dict):
        raise SpecError(
            f"expected a mapping with `choices` or `low`/`high`, but got {_short(raw)}",
            file=file,
            field=fld,
        )
    unknown = sorted(set(map(str, raw)) - {"choices", "low", "high", "step", "log"})
    if unknown:
        raise SpecError(
            f"unknown key {unknown[0]!r}; valid: choices, low, high, step, log",
            file=file,
            field=fld,
        )
    if "choices" in raw:
        if set(raw) != {"choices"}:
            raise SpecError(
                "`choices` cannot be combined with low/high/step/log", file=file, field=fld
            )
        choices = raw["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpecError(
                f"`choices` must be a non-empty list, but got {_short(choices)}",
                file=file,
                field=fld,
            )
        for c in choices:
            if not _is_scalar(c):
                raise SpecError(
                    f"choices must be numbers, strings or booleans, but got {_short(c)}",
                    file=file,
                    field=fld,
                )
        if len({(type(c), c) for c in choices}) != len(choices):
            raise SpecError(f"`choices` has duplicates: {_short(choices)}", file=file, field=fld)
        return Axis(path, choices=tuple(choices))
    if "low" not in raw or "high" not in raw:
        raise SpecError("expected `choices` or both `low` and `high`", file=file, field=fld)
    low = _number(raw["low"], "low", file, fld)
    high = _number(raw["high"], "high", file, fld)
    step = raw.get("step")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"`log` must be true or false, but got {_short(log)}", file=file, field=fld)
    if step is not None:
        step = _number(step, "step", file, fld)
        if step <= 0:
            raise SpecError(f"`step > 0` must hold, but got step={step}", file=file, field=fld)
    if not low <= high:
        raise SpecError(
            f"empty range: `low <= high` must hold, but got low={low}, high={high}",
            file=file,
            field=fld,
        )
    if log and low <= 0:
        raise SpecError(f"a log range needs `low > 0`, but got low={low}", file=file, field=fld)
    if log and step is not None and not (isinstance(low, int) and isinstance(high, int)):
        raise SpecError("a float range cannot have both `step` and `log`", file=file, field=fld)
    is_int = (
        isinstance(low, int) and isinstance(high, int) and (step is None or isinstance(step, int))
    )
    if not is_int and step is not None and (high - low) / step > 1e6:
        raise SpecError(f"range has more than 1e6 steps (step={step})", file=file, field=fld)
    return Axis(path, low=low, high=high, step=step, log=log, is_int=is_int)


def _probe_values(axis: Axis) -> tuple[Scalar, ...]:
    """The values :func:`_check_values` tries: every listed choice and every value of a small
    range; the two ends of a larger range."""
    if axis.choices is not None or (axis.finite and axis.size() <= 64):
        return axis.values()
    if axis.low is None or axis.high is None:  # cannot happen: an axis without choices is a range
        raise SpecError("a range needs both `low` and `high`", field=axis.field)
    return (axis.low, axis.high)


def _check_values(
    family: Family, base: Mapping[str, Any], axes: tuple[Axis, ...], file: str, seed: int
) -> None:
    """Refuse a value the family rejects whatever the other axes take (a type error, a value out
    of the field's range); values valid only in some combinations are left to the search, where
    the other combinations are infeasible trials."""
    rng = random.Random(seed)
    validate = family.spec_type.model_validate
    for axis in axes:
        values = _probe_values(axis)
        others = [a for a in axes if a is not axis]
        for v in values:
            attempt: dict[str, Scalar] = {axis.path: v}
            first: SpecError | None = None
            for k in range(_ACCEPT_TRIES if others else 1):
                if k:
                    attempt = {a.path: a.sample(rng) for a in others} | {axis.path: v}
                try:
                    family.plan(validate(apply_values(base, attempt)), None)
                    first = None
                    break
                except (ValidationError, SpecError) as e:
                    err = e if isinstance(e, SpecError) else spec_error_from(e, file=None)
                    if first is None:
                        first = err
                    if not _names_axis(err.field, axis.path):
                        first = None  # another field failed: this value may well be fine
                        break
            if first is not None:
                raise SpecError(
                    f"value {_short(v)} is rejected by the {family.name} family: "
                    f"{first.one_line()}",
                    file=file,
                    field=axis.field,
                )


def _names_axis(field_path: str | None, axis: str) -> bool:
    """Whether a spec error's field (``depths[3]``) is the axis's path (``depths.3``)."""
    if not field_path:
        return False
    norm = field_path.replace("[", ".").replace("]", "")
    return norm == axis or norm.startswith(axis + ".")


def load_space(path: str | os.PathLike[str]) -> SearchSpace:
    """Read and validate the search-space file at ``path``, or the shipped space it names
    (``search/hiri_vit_5g``)."""
    path = locate(path)
    return parse_space(read_yaml(path), file=str(path))


def parse_space(data: Any, *, file: str) -> SearchSpace:
    """Validate a mapping as a search space; ``file`` locates errors and relative base paths."""
    from hirisearch.ops.search.budget import METRICS
    from hirisearch.ops.search.objectives import check_objective
    from hirisearch.ops.search.strategies import STRATEGIES

    if not isinstance(data, dict):
        raise SpecError(
            f"expected a YAML mapping at the top level, but got a {type(data).__name__}", file=file
        )
    for key in data:
        if key not in SPACE_KEYS:
            raise SpecError(
                f"unknown key; valid: {', '.join(SPACE_KEYS)}", file=file, field=str(key)
            )

    # base spec
    if "base" not in data:
        raise SpecError(
            "required field is missing (a spec path or mapping)", file=file, field="base"
        )
    raw_base = data["base"]
    base_file = None
    if isinstance(raw_base, str):
        base_path = Path(file).parent / raw_base
        base_file = str(base_path)
        try:
            base = read_yaml(base_path)
        except SpecError as e:
            raise SpecError(f"{raw_base}: {e.message}", file=file, field="base") from None
    elif isinstance(raw_base, dict):
        base = raw_base
    else:
        raise SpecError(
            f"expected a spec path or mapping, but got {_short(raw_base)}", file=file, field="base"
        )
    if not isinstance(base, dict):
        raise SpecError("the base spec is not a YAML mapping", file=file, field="base")
    fam_name = base.get("family")
    if not isinstance(fam_name, str) or fam_name not in FAMILIES:
        raise SpecError(
            f"unknown family {_short(fam_name)}; valid: {', '.join(sorted(FAMILIES))}",
            file=file,
            field="base.family",
        )
    family = FAMILIES[fam_name]
    if "img_size" in data:
        size = data["img_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SpecError(
                f"must be a positive integer, but got {_short(size)}", file=file, field="img_size"
            )
        base = {**base, "img_size": size}
    _validate_base(family, base, file, "base")

    # axes
    raw_axes = data.get("axes")
    if not isinstance(raw_axes, dict) or not raw_axes:
        raise SpecError(
            f"expected a non-empty mapping of dotted paths, but got {_short(raw_axes)}",
            file=file,
            field="axes",
        )
    axes = []
    for path, raw in raw_axes.items():
        axis = _parse_axis(path, raw, file)
        _check_path(family, base, axis.path, file)
        axes.append(axis)
    axes_t = tuple(axes)

    # budgets
    raw_budgets = data.get("budgets", {}) or {}
    if not isinstance(raw_budgets, dict):
        raise SpecError(
            f"expected a mapping, but got {_short(raw_budgets)}", file=file, field="budgets"
        )
    budgets = []
    for metric, bounds in raw_budgets.items():
        fld = f"budgets.{metric}"
        if metric not in METRICS:
            raise SpecError(f"unknown metric; valid: {', '.join(METRICS)}", file=file, field=fld)
        if not isinstance(bounds, dict) or not bounds or set(map(str, bounds)) - {"max", "min"}:
            raise SpecError(
                f"expected a mapping with `max` and/or `min`, but got {_short(bounds)}",
                file=file,
                field=fld,
            )
        hi = _number(bounds["max"], "max", file, fld) if "max" in bounds else None
        lo = _number(bounds["min"], "min", file, fld) if "min" in bounds else None
        if hi is not None and lo is not None and lo > hi:
            raise SpecError(
                f"empty budget: `min <= max` must hold, but got min={lo}, max={hi}",
                file=file,
                field=fld,
            )
        budgets.append(BudgetSpec(metric, hi, lo))

    # objectives
    raw_obj = data.get("objectives", [{"minimize": "params"}, {"minimize": "gmacs"}])
    if not isinstance(raw_obj, list) or not raw_obj:
        raise SpecError(
            f"expected a non-empty list like [{{minimize: params}}], but got {_short(raw_obj)}",
            file=file,
            field="objectives",
        )
    objectives = []
    for i, entry in enumerate(raw_obj):
        fld = f"objectives[{i}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise SpecError(
                f"expected one `minimize: NAME` or `maximize: NAME`, but got {_short(entry)}",
                file=file,
                field=fld,
            )
        ((direction, name),) = entry.items()
        if direction not in ("minimize", "maximize"):
            raise SpecError(
                f"expected `minimize` or `maximize`, but got {_short(direction)}",
                file=file,
                field=fld,
            )
        if not isinstance(name, str):
            raise SpecError(
                f"expected an objective name, but got {_short(name)}", file=file, field=fld
            )
        try:
            check_objective(name)
        except SpecError as e:
            raise SpecError(e.message, file=file, field=fld) from None
        objectives.append(ObjectiveSpec(name, direction))
    if len({o.name for o in objectives}) != len(objectives):
        raise SpecError("an objective is listed twice", file=file, field="objectives")

    strategy = data.get("strategy", "tpe")
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise SpecError(
            f"unknown strategy {_short(strategy)}; valid: {', '.join(STRATEGIES)}",
            file=file,
            field="strategy",
        )
    trials = data.get("trials", 100)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise SpecError(
            f"must be a positive integer, but got {_short(trials)}", file=file, field="trials"
        )
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"must be an integer >= 0, but got {_short(seed)}", file=file, field="seed")
    proxy = _parse_proxy(data.get("proxy"), file)

    device = data.get("device", "cpu")
    if device not in DEVICES:
        raise SpecError(
            f"expected one of {', '.join(DEVICES)}, but got {_short(device)}",
            file=file,
            field="device",
        )
    space = SearchSpace(
        file,
        family,
        base,
        axes_t,
        tuple(budgets),
        tuple(objectives),
        strategy,
        trials,
        seed,
        proxy,
        base_file,
        device,
        parse_pruner(data.get("pruner"), file, len(objectives)),
    )
    STRATEGIES[strategy].check(space)
    _check_values(family, base, axes_t, file, seed)
    return space


def _parse_proxy(raw: Any, file: str) -> ProxySettings:
    if raw is None:
        return ProxySettings()
    if not isinstance(raw, dict) or set(map(str, raw)) - {"img_size", "batch"}:
        raise SpecError(
            f"expected a mapping with `img_size` and/or `batch`, but got {_short(raw)}",
            file=file,
            field="proxy",
        )
    out = {}
    for key in ("img_size", "batch"):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > 4096:
                raise SpecError(
                    f"must be an integer in 1..4096, but got {_short(v)}",
                    file=file,
                    field=f"proxy.{key}",
                )
            out[key] = v
    return ProxySettings(**out)
