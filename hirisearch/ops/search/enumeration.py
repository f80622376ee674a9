"""Enumeration, the reference exact method: every configuration of the space, a chunk of
mixed-radix indices at a time, as per-axis digits, per-section gathers and sums
(:class:`hirisearch.ops.search.exact.Model`), budget masks, and the chunk's non-dominated feasible
points, merged into the front. Its time grows with the size of the space (about ten million
configurations a second); :mod:`hirisearch.ops.search.sections` does not enumerate.

Every number is exactly the tables' (integers add exactly; latency is a fixed-point number), and
bounds and objectives are the metrics' vector forms (:mod:`hirisearch.ops.search.fronts`).
"""

from __future__ import annotations

import time

import numpy as np

from hirisearch.ops.search.exact import CHUNK, Model
from hirisearch.ops.search.fronts import Sweep, bounds, finish, merge_front, points


def sweep(model: Model, *, chunk: int = CHUNK) -> Sweep:
    """Every configuration: validity, budgets, and the exact constrained front."""
    space = model.space
    start = time.perf_counter()
    limits = bounds(space)
    out = Sweep(model.size, violations={b.label: 0 for b in limits})
    n_obj = len(space.objectives)
    f_idx, f_pts = np.zeros(0, dtype=np.int64), np.zeros((0, n_obj))
    feasible = 0
    for first, digits, n in model.chunks(chunk):
        ok, vidx = model.valid(digits, n)
        _count_invalid(model, ok, vidx, out.invalid_reasons)
        where = np.flatnonzero(ok)
        out.valid += len(where)
        if not len(where):
            continue
        totals = model.metrics([d[where] for d in digits], len(where))
        feas = np.ones(len(where), dtype=bool)
        for b in limits:
            inside = b.inside(totals)
            out.violations[b.label] = (out.violations[b.label] or 0) + int((~inside).sum())
            feas &= inside
        feasible += int(feas.sum())
        if not feas.any():
            continue
        pts = points(space, totals)[feas]
        f_idx, f_pts = merge_front(f_idx, f_pts, (first + where[feas]).astype(np.int64), pts)
    out.feasible = feasible
    finish(out, space, f_idx, f_pts)
    out.seconds = time.perf_counter() - start
    return out


def _count_invalid(
    model: Model, ok: np.ndarray, vidx: list[np.ndarray], reasons: dict[str, int]
) -> None:
    """Invalid configurations by the first validity group that refuses them, by its error."""
    left = ~ok
    for t, idx in zip(model.validity, vidx, strict=True):
        bad = left & ~t.gather(idx)[0]
        if bad.any():
            keys, counts = np.unique(idx[bad], return_counts=True)
            for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
                msg = model.errors[t.name].get(k, "invalid")
                reasons[msg] = reasons.get(msg, 0) + c
        left &= ~bad
