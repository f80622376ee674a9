"""Search spaces: a base spec, axes (dotted paths into it), budgets, objectives and a strategy.

A space file (``specs/search/*.yaml``)::

    base: ../hiri_vit/s.yaml          # a spec path (relative to this file) or an inline mapping
    img_size: 448                     # optional: the input size, R or [height, width]; with
                                      # [h, w], axes img_size.0 / img_size.1 search each side
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
    exact: {method: sections}         # strategy exact: auto (default), enumerate or sections

Every problem is a :class:`SpecError` naming the file and the field (``axes.depths.3``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hirisearch.errors import SpecError
from hirisearch.models import FAMILIES, Family
from hirisearch.models.resolution import as_hw
from hirisearch.ops.search.metrics import check_train_twin
from hirisearch.ops.search.schema import SpaceFile, space_error
from hirisearch.ops.search.strategies import STRATEGIES
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
from hirisearch.specs import locate
from hirisearch.tasks.family import task_family
from hirisearch.tasks.presets import get_preset
from hirisearch.train.config import TrainConfig

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
    """Validate a mapping as a search space; ``file`` locates errors and relative base paths.

    The file's schema first (:class:`~hirisearch.ops.search.schema.SpaceFile`), then what needs
    the base spec: its family, the axes' paths into it, the values the family rejects whatever
    the other axes take, and what the strategy can search.
    """
    if not isinstance(data, dict):
        raise SpecError(
            f"expected a YAML mapping at the top level, but got a {type(data).__name__}", file=file
        )
    try:
        doc = SpaceFile.model_validate(data)
    except ValidationError as e:
        raise space_error(e, file=file) from None
    base, base_file = _read_base(doc.base, file)
    fam_name = base.get("family")
    if not isinstance(fam_name, str) or fam_name not in FAMILIES:
        raise SpecError(
            f"unknown family {_short(fam_name)}; valid: {', '.join(sorted(FAMILIES))}",
            file=file,
            field="base.family",
        )
    family = FAMILIES[fam_name]
    if doc.img_size is not None:  # [height, width] stays a list, as a spec file writes it
        size = doc.img_size
        base = {**base, "img_size": size if isinstance(size, int) else list(size)}
    _validate_base(family, base, file, "base")
    base, entries = per_block_axes(family, base, doc.axes, file)
    axes = tuple(entry.axis(path) for path, entry in entries)
    for axis in axes:
        _check_path(family, base, axis.path, file)
    task = None
    if doc.task is not None:  # candidates: the backbone under the preset, at the space's size
        task = get_preset(doc.task)
        if doc.img_size is not None:
            task = replace(task, img_size=as_hw(doc.img_size))
        family = task_family(family, task)
        _validate_base(family, base, file, "task")
    space = SearchSpace(
        file,
        family,
        base,
        axes,
        doc.budget_specs(),
        tuple(o.objective() for o in doc.objectives),
        doc.strategy,
        doc.trials,
        doc.seed,
        doc.proxy_settings(),
        base_file,
        doc.device,
        doc.pruner.spec() if doc.pruner is not None else PrunerSpec(),
        doc.exact.method if doc.exact is not None else "auto",
        doc.train.config() if doc.train is not None else TrainConfig(),
        task,
    )
    STRATEGIES[doc.strategy].check(space)
    _check_values(family, base, axes, file, doc.seed)
    check_train_twin(space)
    return space


#: The short form of one axis per block: ``mlp_ratios.3[*]``.
EVERY_BLOCK = "[*]"


def per_block_axes(
    family: Family, base: dict[str, Any], axes: Mapping[str, Any], file: str
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The axes with ``FIELD.i[*]`` expanded to one axis per block of stage ``i``
    (``FIELD.i.0``, ``FIELD.i.1``, ...), and the base with every entry an axis indexes per block
    written out as a per-block list (the same model: ``4`` is ``[4, 4, 4]`` for three blocks)."""
    spec = family.spec_type.model_validate(base)
    out: list[tuple[str, Any]] = []
    for path, entry in axes.items():
        every = path.endswith(EVERY_BLOCK)
        stage = path[: -len(EVERY_BLOCK)] if every else path.rpartition(".")[0]
        index = path.rpartition(".")[2]
        if not every and not (index.isdigit() and family.blocks(spec, stage)):
            out.append((path, entry))  # not into a per-block entry: checked as any path
            continue
        found = family.blocks(spec, stage)
        if found is None:
            raise SpecError(
                f"{stage} takes no per-block values in the {family.name} family",
                file=file,
                field=f"axes.{path}",
            )
        n, depth = found
        if every and depth in axes:
            raise SpecError(
                f"`{path}` is one axis per block of the base spec's {n}, so `{depth}` cannot be "
                "an axis too; give the depth its value in the base spec",
                file=file,
                field=f"axes.{path}",
            )
        base = _blockwise(base, spec, stage, n, depth)
        out += [(f"{stage}.{j}", entry) for j in range(n)] if every else [(path, entry)]
    return base, out


def _blockwise(base: dict[str, Any], spec: Any, stage: str, n: int, depth: str) -> dict[str, Any]:
    """``base`` with the entry at ``stage`` (``mlp_ratios.3``, or ``mlp_ratio`` for one stage)
    as a list of ``n`` per-block values; a model-wide number first becomes one per stage."""
    field, _, i = stage.partition(".")
    value = base[field] if field in base else _plain(getattr(spec, field))
    if i and not isinstance(value, list):
        value = [value] * len(base[depth.partition(".")[0]])
    if i:
        entries = list(value)
        entries[int(i)] = _listed(entries[int(i)], n)
        return {**base, field: entries}
    return {**base, field: _listed(value, n)}


def _plain(value: Any) -> Any:
    """A spec's value as YAML has it (tuples as lists)."""
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def _listed(value: Any, n: int) -> list[Any]:
    return list(value) if isinstance(value, list) else [value] * n


def _read_base(raw: str | dict[str, Any], file: str) -> tuple[dict[str, Any], str | None]:
    """The base spec's mapping (read from its path, relative to the space file) and its file."""
    if isinstance(raw, dict):
        return raw, None
    path = Path(file).parent / raw
    try:
        base = read_yaml(path)
    except SpecError as e:
        raise SpecError(f"{raw}: {e.message}", file=file, field="base") from None
    if not isinstance(base, dict):
        raise SpecError("the base spec is not a YAML mapping", file=file, field="base")
    return base, str(path)
