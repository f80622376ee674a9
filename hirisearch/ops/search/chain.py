"""A space's chain of sections for the section-wise front: the factors (from the tabulated model),
the problem (from its objectives and budgets), and the run, which returns what enumeration
returns (:class:`hirisearch.ops.search.fronts.Sweep`) with exact counts.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from hirisearch.errors import ExactError
from hirisearch.ops.search.counting import IN, OPEN, OUT, count_inside
from hirisearch.ops.search.exact import COLUMNS, Model
from hirisearch.ops.search.fronts import Bound, Sweep, Totals, bounds, finish, merge_front, points
from hirisearch.ops.search.metrics import METRICS
from hirisearch.ops.search.sections import Factor, Problem, front_by_sections
from hirisearch.ops.search.terms import LATENCY_QUANTUM
from hirisearch.ops.search.types import SearchSpace

#: Every quantity of a section is a sum over sections.
HOW = ("sum",) * len(COLUMNS)
#: Objective totals must stay below this for their metrics to be strictly increasing in float64.
STRICT_BELOW = 1 << 50


def factors_of(model: Model, reach: dict[str, np.ndarray]) -> list[Factor]:
    """The sections in the model's order, each validity group right after the section that
    completes the axes it shares with sections (its own other axes are chosen there)."""
    metric: list[Factor] = []
    for t in model.tables:
        cols = t.cols or [np.zeros(t.size, dtype=np.int64) for _ in COLUMNS]
        lat = np.rint(np.asarray(cols[3], dtype=np.float64) / LATENCY_QUANTUM).astype(np.int64)
        values = np.stack([*(np.asarray(c, dtype=np.int64) for c in cols[:3]), lat], axis=1)
        metric.append(Factor(t.name, t.axes, tuple(t.mult), values, reach[t.name]))
    in_metric = {a for f in metric for a in f.axes}
    after: dict[int, list[Factor]] = {}
    for g in model.validity:
        shared = set(g.axes) & in_metric
        at, seen = -1, set[int]()
        for k, f in enumerate(metric):
            if shared <= seen:
                break
            seen |= set(f.axes)
            at = k
        ok = g.cols[0].astype(bool) if g.cols else np.ones(g.size, dtype=bool)
        after.setdefault(at, []).append(Factor(g.name, g.axes, tuple(g.mult), None, ok))
    out = after.get(-1, [])
    for k, f in enumerate(metric):
        out += [f, *after.get(k, [])]
    return out


def totals_of(sums: np.ndarray, upper: float = 1.0) -> Totals:
    """The summed totals of integer partial sums (latency back in milliseconds), with the
    space's latency interval factor ``upper`` (:attr:`Model.upper_factor`)."""
    out: dict[str, Any] = {name: sums[:, k] for k, name in enumerate(COLUMNS)}
    out["latency_ms"] = sums[:, COLUMNS.index("latency_ms")] * LATENCY_QUANTUM
    out["latency_upper_factor"] = upper
    return out


def _quantity(metric: str) -> int:
    total = METRICS[metric].total
    if total is None:
        raise ExactError(f"metric {metric} is not a function of summed totals")
    return COLUMNS.index(total)


def problem_of(space: SearchSpace, upper: float = 1.0) -> Problem:
    """Dominance coordinates (objectives first: those that decide ties), and the budgets' test of
    the lowest and highest totals a partial sum may reach (``upper``: the latency interval
    factor)."""
    coords: list[tuple[int, int]] = []
    for o in space.objectives:
        c = (_quantity(o.name), 1 if o.direction == "minimize" else -1)
        if c not in coords:
            coords.append(c)
    tied = len(coords)
    limits = bounds(space)
    for b in limits:
        c = (_quantity(b.metric), 1 if b.kind == "max" else -1)
        if c not in coords:
            coords.append(c)

    def keep(low: np.ndarray, high: np.ndarray) -> np.ndarray:
        return (_verdicts(limits, low, high, upper) != OUT).all(axis=1)

    return Problem(HOW, tuple(coords), tied, keep)


def _verdicts(
    limits: list[Bound], low: np.ndarray, high: np.ndarray, upper: float = 1.0
) -> np.ndarray:
    """Per partial sum and bound: OUT (no completion is inside), IN (every one is), or OPEN."""
    lo, hi = totals_of(low, upper), totals_of(high, upper)
    out = np.full((len(low), len(limits)), OPEN, dtype=np.int8)
    for k, b in enumerate(limits):
        best, worst = (lo, hi) if b.kind == "max" else (hi, lo)
        out[~b.inside(best), k] = OUT
        out[b.inside(worst), k] = IN
    return out


def _check_strict(space: SearchSpace, factors: list[Factor]) -> None:
    top = np.zeros(len(COLUMNS), dtype=np.int64)
    for f in factors:
        if f.values is not None and f.ok.any():
            top += np.abs(f.values[f.ok]).max(axis=0)
    for o in space.objectives:
        if top[_quantity(o.name)] >= STRICT_BELOW:
            raise ExactError(
                f"{o.name} of this space may exceed 2**50, where its float64 values stop being "
                "strictly increasing; use `exact: {method: enumerate}`"
            )


def run_sections(model: Model) -> Sweep:
    """The exact constrained front of the model's space by sections, with exact counts."""
    space = model.space
    start = time.perf_counter()
    reach = model.tabulate()
    factors = factors_of(model, reach)
    _check_strict(space, factors)
    chain = front_by_sections(factors, model.radix, problem_of(space, model.upper_factor))
    totals = totals_of(chain.sums, model.upper_factor)
    limits = bounds(space)
    feas = np.ones(len(chain.index), dtype=bool)
    for b in limits:
        feas &= b.inside(totals)
    out = Sweep(model.size, method="sections", steps=chain.steps)
    out.partial_fronts, out.partial_sums = chain.partial_fronts, chain.partial_sums
    out.largest_step = chain.largest_step
    n_obj = len(space.objectives)
    f_idx, f_pts = merge_front(
        np.zeros(0, dtype=np.int64), np.zeros((0, n_obj)), chain.index[feas],
        points(space, totals)[feas],
    )  # fmt: skip
    finish(out, space, f_idx, f_pts)
    _counts(model, factors, limits, out)
    out.seconds = time.perf_counter() - start
    return out


def _counts(model: Model, factors: list[Factor], limits: list[Bound], out: Sweep) -> None:
    """Valid and invalid (by reason) configurations from the validity groups; inside each bound
    and inside all of them by counting over the chain (None where it gives up)."""
    sizes = [g.size for g in model.validity]
    valid_in = [int(g.cols[0].sum()) if g.cols else g.size for g in model.validity]
    grouped = {a for g in model.validity for a in g.axes}
    free = math.prod(r for a, r in enumerate(model.radix) if a not in grouped)
    out.valid = math.prod(valid_in) * free
    for k, g in enumerate(model.validity):
        each = math.prod(valid_in[:k]) * math.prod(sizes[k + 1 :]) * free
        for key, msg in model.errors[g.name].items():
            if g.cols and not g.cols[0][key]:
                out.invalid_reasons[msg] = out.invalid_reasons.get(msg, 0) + each

    def inside(chosen: list[Bound]) -> int | None:
        reads = [(_quantity(b.metric),) for b in chosen]

        def judge(low: np.ndarray, high: np.ndarray) -> np.ndarray:
            return _verdicts(chosen, low, high, model.upper_factor)

        return count_inside(factors, model.radix, HOW, judge, reads)

    out.feasible = inside(limits)  # when this one gives up, so would the others, or nearly
    for b in limits:
        n = out.feasible if len(limits) == 1 else inside([b]) if out.feasible is not None else None
        out.violations[b.label] = None if n is None else out.valid - n
