"""The results of a run: trial records, the constrained front, ready spec files, and the
:class:`SearchResult` whose run document (kind ``search``) the run folder's ``results.json`` holds
(written by :func:`hirisearch.report.run.save.save_run`, as every run folder is).

Every document is made again from the study (trial strategies) or from the sweep (exact mode).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import yaml

from hirisearch.cost.types import Cost
from hirisearch.io import atomic_write_text
from hirisearch.models.resolution import as_hw, size_label, size_value
from hirisearch.ops.search.budget import bound_labels, check_budgets
from hirisearch.ops.search.candidate import Candidate, evaluate
from hirisearch.ops.search.metrics import EvalContext, latency_fields
from hirisearch.ops.search.objectives import get_objective, is_slow
from hirisearch.ops.search.pareto import pareto_indices, to_minimise
from hirisearch.ops.search.types import Scalar, SearchSpace


@dataclass(frozen=True)
class TrialRecord:
    """One trial (or, in exact mode, one configuration of the front), flattened."""

    number: int
    state: str
    values: dict[str, Scalar]
    valid: bool
    feasible: bool
    error: str | None
    params: int | None
    macs: int | None
    acts: int | None
    objectives: dict[str, float | None]
    slack: dict[str, float]
    worker: int | None = None
    latency_ms: float | None = None
    #: The predicted latency's interval [low, high] at the result's ``predicted_coverage``.
    predicted_interval_ms: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TracedCheck:
    macs: int
    params: int
    agrees: bool
    within_budget: bool


@dataclass(frozen=True)
class ParetoEntry:
    record: TrialRecord
    diff: dict[str, tuple[Any, Any]]  # axis -> (base value, this value)
    spec_file: str
    traced: TracedCheck | None


@dataclass(frozen=True)
class SearchResult:
    """A finished (or interrupted) run, all JSON-serialisable."""

    kind: ClassVar[str] = "search"

    run_dir: str
    study: str
    storage: str
    space_file: str
    strategy: str
    requested: int
    complete: int
    failed: int
    feasible: int | None  # None: not counted (an exact run that gave up counting)
    objectives: list[dict[str, str]]
    budgets: list[str]
    pareto: list[ParetoEntry]
    cheapest: dict[str, Any] | None = None  # when nothing is feasible
    base: dict[str, Any] | None = None  # the base spec's own cost
    base_spec: dict[str, Any] | None = None  # the base spec's mapping
    interrupted: bool = False
    exact: dict[str, Any] | None = None  # exact mode: counts, reasons, sections, timings
    notes: list[str] = field(default_factory=list)
    device: str | None = None  # the device of the predicted latency, when there is one
    predicted_coverage: float | None = None  # the coverage of its intervals
    report: str | None = None  # report.html, once the run folder is written
    pruned: int = 0  # trials stopped early by the space's pruner (finished, never feasible)
    baselines: list[dict[str, Any]] = field(default_factory=list)  # models placed in the table
    #: The run folder's own fields (not in :meth:`to_json`): every trial, the budgets' limits,
    #: the base spec's file and size (:func:`finished` sets them).
    trials: tuple[dict[str, Any], ...] = ()
    limits: dict[str, float] = field(default_factory=dict)
    base_file: str = ""
    img_size: int | tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        """What ``search --json`` prints: the run, its front and the baselines."""
        doc = asdict(replace(self, trials=()))
        return {k: v for k, v in doc.items() if k not in _RUN_ONLY}

    @classmethod
    def run_document(cls, results: Sequence[SearchResult]) -> dict[str, Any]:
        """A ``search`` run folder's fields: the space, every trial, the baselines and the run
        (:meth:`to_json` without the report and the baselines). The command recorded is the
        space's, so that a resumed run and the API record the same one."""
        if len(results) != 1:
            raise ValueError(f"a search run folder holds one search, but got {len(results)}")
        r = results[0]
        return {
            "command": f"hirisearch search {r.space_file}",
            "base_spec": r.base_file,
            "img_size": r.img_size,
            "budgets": r.limits,
            "objectives": r.objectives,
            "trials": list(r.trials),
            "baselines": [{k: v for k, v in b.items() if k != "img_size"} for b in r.baselines],
            "run": {k: v for k, v in r.to_json().items() if k not in ("report", "baselines")},
        }

    @classmethod
    def run_name(cls, results: Sequence[SearchResult]) -> str:
        return "+".join(Path(r.space_file).stem for r in results)


_RUN_ONLY = ("trials", "limits", "base_file", "img_size")


def search_result(
    space: SearchSpace,
    ctx: EvalContext,
    run_dir: str | os.PathLike[str],
    pareto: list[ParetoEntry],
    *,
    any_feasible: bool,
    **run: Any,
) -> SearchResult:
    """A :class:`SearchResult` with the fields every strategy fills alike from the space: the
    objectives, the budgets, the base spec's row, the cheapest configuration when nothing is
    feasible (``any_feasible`` False), the device of the predicted latency. ``run``: the rest
    (study, storage, strategy, counts, ...)."""
    return SearchResult(
        run_dir=str(run_dir),
        space_file=space.file,
        objectives=[{"name": o.name, "direction": o.direction} for o in space.objectives],
        budgets=list(bound_labels(space.budgets)),
        pareto=pareto,
        cheapest=None if any_feasible else cheapest_config(space),
        base=base_row(space, ctx),
        base_spec=dict(space.base),
        device=space.device if ctx.calibration is not None else None,
        predicted_coverage=ctx.confidence if ctx.calibration is not None else None,
        **run,
    )


def _get(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        try:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
        except (IndexError, ValueError, AttributeError):
            return None
    return node


def spec_yaml(space: SearchSpace, cand: Candidate, name: str, note: str) -> str:
    """A ready spec file: the candidate's mapping in the base spec's key order."""
    data = dict(cand.data)
    data["name"] = name
    data["description"] = note
    order = ["family", "name", "description"]
    doc = {k: data[k] for k in order if k in data} | {
        k: v for k, v in data.items() if k not in order
    }
    header = f"# Found by `hirisearch search {space.file}`; {note}\n"
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def traced_check(space: SearchSpace, cand: Candidate, ctx: EvalContext) -> TracedCheck:
    """The traced count of a front configuration, and whether it keeps within the budgets."""
    from hirisearch.cost.counters import count_traced

    if cand.plan is None or cand.tree is None:
        raise ValueError("traced check of an invalid candidate")
    plan = cand.plan
    traced = count_traced(
        lambda device=None, dtype=None: space.family.build(plan, device=device, dtype=dtype),
        plan.input_shape,
    )
    analytic = cand.tree.total
    agrees = traced.total.macs == analytic.macs and traced.total.params == analytic.params
    shadow_tree = (
        cand.tree
        if agrees
        else type(cand.tree)(
            Cost(params=traced.total.params, conv=traced.total.macs, acts=analytic.acts)
        )
    )
    shadow = Candidate(cand.values, cand.data, cand.spec, cand.plan, shadow_tree)
    within = check_budgets(shadow, space.budgets, ctx).feasible
    return TracedCheck(traced.total.macs, traced.total.params, agrees, within)


def front_of(records: list[TrialRecord], space: SearchSpace) -> list[TrialRecord]:
    """The constrained front of trial records; revisited configurations count once."""
    directions = [o.direction for o in space.objectives]
    names = [o.name for o in space.objectives]
    unique: dict[tuple[Any, ...], TrialRecord] = {}
    for r in records:
        if r.feasible and all(r.objectives[n] is not None for n in names):
            unique.setdefault(tuple(sorted(r.values.items())), r)
    pool = list(unique.values())
    points = [to_minimise([r.objectives[n] for n in names], directions) for r in pool]  # type: ignore[misc]
    keep = pareto_indices(points)
    return [pool[i] for i in sorted(keep, key=lambda i: points[i])]


def pareto_entries(
    space: SearchSpace,
    front: list[TrialRecord],
    out: Path,
    ctx: EvalContext,
    *,
    verify: bool,
    notes: list[str],
    verify_max: int | None = None,
) -> list[ParetoEntry]:
    """Write a ready spec per front configuration (``pareto/``), traced re-count if ``verify``
    (of at most ``verify_max`` of them, spread along the front, when given)."""
    checked = set(range(len(front)))
    if verify_max is not None and len(front) > verify_max:
        step = (len(front) - 1) / max(verify_max - 1, 1)
        checked = {round(k * step) for k in range(verify_max)}
    pareto_dir = out / "pareto"
    if pareto_dir.exists():
        for old in pareto_dir.glob("*.yaml"):
            old.unlink()
    entries = []
    base_name = str(space.base.get("name", "model"))
    for k, r in enumerate(front):
        cand = evaluate(space, r.values)
        diff = {
            p: (_get(space.base, p), v) for p, v in r.values.items() if _get(space.base, p) != v
        }
        if r.params is None or r.macs is None or cand.plan is None:
            raise ValueError(f"trial {r.number} is feasible but has no recorded cost")
        lat = f", {r.latency_ms:.2f} ms predicted on {space.device}" if r.latency_ms else ""
        note = (
            f"trial {r.number}: {r.params / 1e6:.2f}M params, {r.macs / 1e9:.3f} GFLOPs at "
            f"{size_label(cand.plan.img_size)}{lat}"
        )
        path = pareto_dir / f"{k:02d}_trial{r.number}.yaml"
        atomic_write_text(path, spec_yaml(space, cand, f"{base_name}-search-{r.number}", note))
        traced = traced_check(space, cand, ctx) if verify and k in checked else None
        if traced is not None and not traced.agrees:
            notes.append(
                f"trial {r.number}: analytic cost ({r.macs} MACs, {r.params} params) disagrees "
                f"with the traced count ({traced.macs} MACs, {traced.params} params)"
            )
        if traced is not None and not traced.within_budget:
            notes.append(f"trial {r.number}: outside the budget by its traced count")
        entries.append(ParetoEntry(r, diff, str(path), traced))
    return entries


def base_row(space: SearchSpace, ctx: EvalContext) -> dict[str, Any] | None:
    """The base spec's own cost, feasibility and cheap objectives (the table's first row)."""
    cand = evaluate(space, {})
    if not cand.valid:
        return None
    check = check_budgets(cand, space.budgets, ctx)
    objs = {}
    for o in space.objectives:  # slow ones (user code among them) are not computed: no import
        objs[o.name] = None if is_slow(o.name) else get_objective(o.name).scalar(cand, ctx)
    lat, span = latency_fields(cand, ctx)
    return {
        "name": space.base.get("name"),
        "params": cand.cost.params,
        "macs": cand.cost.macs,
        "latency_ms": lat,
        "predicted_interval_ms": span,
        "feasible": check.feasible,
        "objectives": objs,
        "slack": dict(zip(check.bounds, check.slack, strict=True)),
    }


def corner(space: SearchSpace, which: str) -> Candidate:
    """The configuration with every axis at its cheapest (``low``) or dearest (``high``) end.

    Ends are judged per axis by the analytic cost of moving that axis alone from the base.
    """
    values: dict[str, Scalar] = {}
    for a in space.axes:
        ends = a.values() if a.finite else (a.low, a.high)
        costs = []
        for v in (ends[0], ends[-1]) if a.choices is None else ends:
            c = evaluate(space, {a.path: v})  # type: ignore[dict-item]
            costs.append((c.cost.macs if c.valid else math.inf, v))
        valid = [x for x in costs if math.isfinite(x[0])] or costs
        pick = min(valid, key=lambda x: x[0]) if which == "low" else max(valid, key=lambda x: x[0])
        values[a.path] = pick[1]  # type: ignore[assignment]
    return evaluate(space, values)


def cheapest_config(space: SearchSpace, limit: int = 200_000) -> dict[str, Any]:
    """The valid configuration with the fewest MACs (exact for finite spaces up to ``limit``)."""
    best: Candidate | None = None
    if space.size <= limit:
        for combo in space.grid():
            c = evaluate(space, dict(zip((a.path for a in space.axes), combo, strict=True)))
            if c.valid and (best is None or c.cost.macs < best.cost.macs):
                best = c
        how = "exact"
    else:
        best = corner(space, "low")
        how = "cheapest corner"
    if best is None or not best.valid:
        return {"values": None, "how": how, "error": "no valid configuration in the space"}
    return {
        "values": dict(best.values),
        "how": how,
        "params": best.cost.params,
        "macs": best.cost.macs,
        "acts": best.cost.acts,
    }


def finished(
    space: SearchSpace,
    result: SearchResult,
    records: list[TrialRecord],
    baselines: list[dict[str, Any]],
) -> SearchResult:
    """``result`` with what its run folder records besides the run: every trial (``records``),
    the budgets' limits, the base spec's file and size, and the ``baselines``."""
    pareto = {e.record.number for e in result.pareto}
    limits: dict[str, float] = {}
    for b in space.budgets:
        if b.max is not None:
            limits[b.metric] = b.max
        if b.min is not None:
            limits[f"{b.metric} (min)"] = b.min
    trials = tuple(
        {
            "number": r.number,
            "state": r.state,
            "valid": r.valid,
            "feasible": r.feasible,
            "error": r.error,
            "params": r.params,
            "macs": r.macs,
            "acts": r.acts,
            "latency_ms": r.latency_ms,
            "objectives": r.objectives,
            "slack": r.slack,
            "pareto": r.number in pareto,
            "axes": r.values,
        }
        for r in records
    )
    return replace(
        result,
        baselines=list(baselines),
        trials=trials,
        limits=limits,
        base_file=os.path.normpath(space.base_file or space.file),
        img_size=_size_of(space.base.get("img_size")),
    )


def _size_of(img_size: Any) -> int | tuple[int, int] | None:
    """The space's ``img_size`` as results hold it (``None``: the base spec's default)."""
    return None if img_size is None else size_value(as_hw(img_size))
