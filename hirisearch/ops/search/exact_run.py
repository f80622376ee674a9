"""``strategy: exact``: the exact constrained front of the whole space, with the counts (valid,
feasible, invalid by reason, outside each bound), by enumeration
(:mod:`hirisearch.ops.search.enumeration`) or section by section
(:mod:`hirisearch.ops.search.sections`), as the space's ``exact: {method: ...}`` asks or, by
default, whichever is estimated cheaper. No Optuna study: the run is deterministic, so a re-run is
the resume."""

from __future__ import annotations

import math
import time
from typing import Any

from hirisearch.errors import ExactError
from hirisearch.io import RunDir
from hirisearch.ops.search.budget import check_budgets
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.chain import run_sections
from hirisearch.ops.search.enumeration import sweep
from hirisearch.ops.search.exact import Model, values_at
from hirisearch.ops.search.fronts import Sweep
from hirisearch.ops.search.metrics import EvalContext, latency_fields
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
#: Rough costs on one core, for ``exact: {method: auto}``: a scalar evaluation filling a table
#: entry, a configuration enumerated, a partial sum expanded by a section.
EVAL_S, ENUMERATE_S, ROW_S = 3e-4, 1.5e-7, 5e-7
#: Partial sums per group the estimate of the section-wise front assumes.
FRONT_GUESS = 64
#: ``auto`` falls back to enumeration when the section-wise front gives up, up to this size.
ENUMERATE_MAX = 10**9


def front_records(space: SearchSpace, model: Model, found: Sweep) -> list[TrialRecord]:
    """The front's configurations as records (``number``: the configuration's index)."""
    ctx = EvalContext.of(space, model.oracle.calibration)
    out = []
    for index in found.front_index.tolist():
        values = values_at(model, int(index))
        cand = evaluate(space, values)
        check = check_budgets(cand, space.budgets, ctx)
        lat, span = latency_fields(cand, ctx)
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
                predicted_interval_ms=span,
            )
        )
    return out


def _reasons(found: Sweep) -> dict[str, int]:
    """Invalid configurations by the rule they break: messages that differ only in the values
    they quote (``..., but got dims[4]=384, num_heads[4]=14``) as one, with the first values as
    an example; the largest counts first, the rest summed."""
    rules: dict[str, tuple[int, str]] = {}
    for msg, n in found.invalid_reasons.items():
        rule, _, example = msg.partition(", but got ")
        count, first = rules.get(rule, (0, example))
        rules[rule] = (count + n, first)
    items = sorted(
        ((f"{r} (e.g. {e})" if e else r, n) for r, (n, e) in rules.items()),
        key=lambda kv: (-kv[1], kv[0]),
    )
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


def choose_method(space: SearchSpace, model: Model) -> tuple[str, dict[str, float]]:
    """The method ``space`` asks for, or (``auto``) the one of lower estimated cost, with the
    estimates in seconds: both fill the tables (a scalar evaluation per combination), then
    enumeration sweeps every configuration and the section-wise front expands at most its
    partial fronts (guessed at :data:`FRONT_GUESS` partial sums per group) by each section."""
    fill = sum(t.size - int(t.known.sum()) for t in (*model.tables, *model.validity) if t.dense)
    estimates = {"enumerate": fill * EVAL_S + model.size * ENUMERATE_S}
    dense = all(t.dense for t in (*model.tables, *model.validity))
    if dense:
        rows, seen = 0, set()
        for t in model.tables:
            seen |= set(t.axes)
            assigned = math.prod(model.radix[a] for a in seen)
            rows += min(assigned, math.prod(model.radix[a] for a in t.axes) * FRONT_GUESS)
        estimates["sections"] = fill * EVAL_S + rows * ROW_S
    if model.with_train:
        # A training step's peak is a maximum over its events, costed per configuration by its
        # training twin: there are no partial sums over sections to prune.
        if space.exact_method == "sections":
            raise ExactError(
                "exact: {method: sections} cannot bound the training metrics (train_gmacs, "
                "train_mem_gb): a training step's peak memory is not a sum over sections; use "
                "method: enumerate or auto"
            )
        return "enumerate", estimates
    if space.exact_method != "auto":
        return space.exact_method, estimates
    if not dense:
        return "enumerate", estimates
    return min(estimates, key=lambda k: estimates[k]), estimates


def _sweep_results(
    space: SearchSpace, opts: SearchOptions, ctx: EvalContext
) -> tuple[SearchResult, list[TrialRecord]]:
    start = time.perf_counter()
    model = Model(space, ctx.calibration, seed=space.seed)
    method, estimates = choose_method(space, model)
    notes: list[str] = []
    if method == "sections":
        try:
            found = run_sections(model)
        except ExactError as e:
            if space.exact_method == "sections" or model.size > ENUMERATE_MAX:
                raise
            notes.append(f"the section-wise front gave up ({e}); enumerated instead")
            found = sweep(model)
    else:
        found = sweep(model)
    records = front_records(space, model, found)
    entries = pareto_entries(
        space, records, opts.out, ctx, verify=opts.verify, notes=notes, verify_max=VERIFY_MAX
    )
    for r in records:  # the front is computed from the tables; the scalar model must agree
        if not r.feasible:
            notes.append(f"configuration {r.number}: infeasible by the scalar model")
    elapsed = time.perf_counter() - start
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
        exact=_exact_doc(space, model, found, estimates, elapsed),
        notes=notes,
    )
    return result, records


def _exact_doc(
    space: SearchSpace, model: Model, found: Sweep, estimates: dict[str, float], elapsed: float
) -> dict[str, Any]:
    """The exact run's counts, method and timings (``SearchResult.exact``)."""
    outside = None if found.feasible is None else found.valid - found.feasible
    doc: dict[str, Any] = {
        "method": found.method,
        "configurations": found.size,
        "valid": found.valid,
        "feasible": found.feasible,
        "invalid": found.size - found.valid,
        "invalid_by_reason": _reasons(found),
        "outside_budget": outside,
        "outside_by_bound": found.violations,
        "front": len(found.front_index),
        "sections": [
            {"path": s.path, "axes": list(s.axes), "combinations": s.combinations}
            for s in model.section_info
        ],
        "validity_groups": [[space.axes[a].path for a in t.axes] for t in model.validity],
        "scalar_evaluations": model.oracle.calls,
        "estimated_s": {k: round(v, 4) for k, v in estimates.items()},
        "discovery_s": round(model.discovery_s, 4),
        "tabulate_s": round(model.tabulated_s, 4),
        "sweep_s": round(found.seconds, 4),
        "seconds": round(elapsed, 4),
    }
    if found.method == "sections":
        doc["partial_fronts"] = {
            "steps": found.steps,
            "fronts": found.partial_fronts,
            "partial_sums": found.partial_sums,
            "largest_step": found.largest_step,
        }
    else:
        doc["configs_per_s"] = round(found.size / found.seconds) if found.seconds > 0 else None
    return doc
