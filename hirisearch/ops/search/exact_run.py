"""``strategy: exact``: sweep the whole space (:mod:`hirisearch.ops.search.exact`) and record its exact
constrained front, with the counts (feasible; infeasible by reason). No Optuna study: the sweep
is deterministic, so a re-run is the resume."""

from __future__ import annotations

import time
from typing import Any

from hirisearch.io import RunDir
from hirisearch.ops.search.budget import check_budgets
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.exact import Model, Sweep, sweep, values_at
from hirisearch.ops.search.metrics import METRICS, EvalContext
from hirisearch.ops.search.objectives import get_objective
from hirisearch.ops.search.options import ProgressFn, SearchOptions
from hirisearch.ops.search.results import (
    SearchResult,
    TrialRecord,
    pareto_entries,
    search_result,
)
from hirisearch.ops.search.types import SearchSpace

#: Front configurations re-counted by the traced counter (spread along the front; the analytic
#: model's parity with the traced count is tested per family, so this is a spot check).
VERIFY_MAX = 6
#: Infeasible-by-reason rows kept in the results (the largest counts; the rest summed).
REASONS_SHOWN = 12


def front_records(space: SearchSpace, model: Model, found: Sweep) -> list[TrialRecord]:
    """The front's configurations as records (``number``: the configuration's index)."""
    ctx = EvalContext.of(space, model.oracle.calibration)
    out = []
    for index in found.front_index.tolist():
        values = values_at(model, int(index))
        cand = evaluate(space, values)
        check = check_budgets(cand, space.budgets, ctx)
        lat = None
        if ctx.calibration is not None:
            lat = METRICS["latency_ms"].scalar(cand, ctx)
        out.append(
            TrialRecord(
                number=int(index),
                state="COMPLETE",
                values=values,
                valid=cand.valid,
                feasible=check.feasible,
                error=cand.error,
                params=cand.cost.params,
                macs=cand.cost.macs,
                acts=cand.cost.acts,
                objectives={
                    o.name: get_objective(o.name).scalar(cand, ctx) for o in space.objectives
                },
                slack=dict(zip(check.bounds, check.slack, strict=True)),
                latency_ms=lat,
            )
        )
    return out


def _reasons(found: Sweep) -> dict[str, int]:
    items = sorted(found.invalid_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    out = dict(items[:REASONS_SHOWN])
    rest = sum(n for _, n in items[REASONS_SHOWN:])
    if rest:
        out[f"{len(items) - REASONS_SHOWN} other reasons"] = rest
    return out


def run_exact(
    space: SearchSpace, opts: SearchOptions, ctx: EvalContext, progress: ProgressFn | None = None
) -> tuple[SearchResult, list[TrialRecord]]:
    """Sweep the whole space and write the front's specs in ``opts.out``, held exclusively
    meanwhile (no progress is reported: the sweep takes seconds)."""
    with RunDir(opts.out):
        return _sweep_results(space, opts, ctx)


def _sweep_results(
    space: SearchSpace, opts: SearchOptions, ctx: EvalContext
) -> tuple[SearchResult, list[TrialRecord]]:
    start = time.perf_counter()
    model = Model(space, ctx.calibration, seed=space.seed)
    found = sweep(model)
    records = front_records(space, model, found)
    notes: list[str] = []
    entries = pareto_entries(
        space, records, opts.out, ctx, verify=opts.verify, notes=notes, verify_max=VERIFY_MAX
    )
    for r in records:  # the front is computed from the sweep; the scalar model must agree
        if not r.feasible:
            notes.append(f"configuration {r.number}: infeasible by the scalar model")
    elapsed = time.perf_counter() - start
    exact: dict[str, Any] = {
        "configurations": found.size,
        "valid": found.valid,
        "feasible": found.feasible,
        "invalid": found.size - found.valid,
        "invalid_by_reason": _reasons(found),
        "outside_budget": found.valid - found.feasible,
        "outside_by_bound": found.violations,
        "front": len(records),
        "sections": [
            {"path": s.path, "axes": list(s.axes), "combinations": s.combinations}
            for s in model.section_info
        ],
        "validity_groups": [[space.axes[a].path for a in t.axes] for t in model.validity],
        "scalar_evaluations": model.oracle.calls,
        "discovery_s": round(model.discovery_s, 4),
        "sweep_s": round(found.seconds, 4),
        "seconds": round(elapsed, 4),
        "configs_per_s": round(found.size / found.seconds) if found.seconds > 0 else None,
    }
    result = search_result(
        space,
        ctx,
        opts.out,
        entries,
        any_feasible=bool(records),
        study="-",
        storage="-",
        strategy="exact",
        requested=found.size,
        complete=found.size,
        failed=0,
        feasible=found.feasible,
        exact=exact,
        notes=notes,
    )
    return result, records
