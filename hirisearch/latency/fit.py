"""Fitting the latency predictor's coefficients: robust non-negative least squares.

Each operator category's model is ``time = per_mac * MACs + per_element * elements + per_param *
weights + per_op``; all fits minimise relative error:

1. :func:`fit` -- each category alone, on single-operator micro-benchmarks (what calibration
   falls back to without networks);
2. :func:`fit_insitu` -- jointly, every category's model and the glue the convention does not
   count (activations, residual adds, reshapes, windowing, the forward's Python) on the modules of
   whole networks timed where they run (:mod:`hirisearch.latency.insitu`), with any single-operator
   samples as extra rows;
3. :func:`fit_network_scales` -- whole networks timed without hooks: a factor per category
   (shared by every family) and a factor per family.

Nothing here knows a model family: the inputs are operator records and cost trees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from hirisearch.cost.types import CostNode
from hirisearch.latency.predict import (
    CATEGORIES,
    OP_CATEGORIES,
    Calibration,
    CalibrationError,
    Sample,
    predict_ops_ms,
    tree_ops,
)

if TYPE_CHECKING:
    from hirisearch.latency.insitu import NodeSample

__all__ = [
    "SCALED",
    "fit_insitu",
    "fit_network_scales",
    "nnls",
    "robust_nnls",
    "fit",
]

#: The operator categories (each with its own model; its glue ``glue_<category>`` too).
SCALED = OP_CATEGORIES
#: Robust fit: Huber threshold (in robust standard deviations of the relative error) and rounds.
HUBER_K = 1.5
ROBUST_ROUNDS = 8

Coeffs = dict[str, tuple[float, float, float, float]]


def nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares ``min |a x - y|, x >= 0`` by an active set: solve on the free
    columns, move the most negative coefficient to the bound, repeat; then re-admit any bound column
    whose gradient says it would help (Lawson-Hanson's optimality check)."""
    n = a.shape[1]
    free = list(range(n))
    for _ in range(4 * n + 4):
        x = np.zeros(n)
        if free:
            sol, *_ = np.linalg.lstsq(a[:, free], y, rcond=None)
            if np.any(sol < 0):
                free.pop(int(np.argmin(sol)))
                continue
            x[free] = sol
        grad = a.T @ (y - a @ x)
        bound = [
            j for j in range(n) if j not in free and grad[j] > 1e-12 * max(1.0, abs(grad).max())
        ]
        if not bound:
            return x
        free.append(max(bound, key=lambda j: grad[j]))
    return x


def robust_nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`nnls` with Huber weights by iteratively reweighted least squares: a row whose residual
    exceeds :data:`HUBER_K` robust standard deviations (1.4826 x the median absolute residual)
    counts with weight ``k / |r|``, so one disturbed timing cannot drag the fit."""
    x = nnls(a, y)
    for _ in range(ROBUST_ROUNDS):
        r = y - a @ x
        sigma = 1.4826 * float(np.median(np.abs(r)))
        if sigma <= 1e-12 * max(1.0, float(np.abs(y).max())):
            return x
        w = np.minimum(1.0, HUBER_K * sigma / np.maximum(np.abs(r), 1e-300))
        sw = np.sqrt(w)
        x = nnls(a * sw[:, None], y * sw)
    return x


def _solve_scaled(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`robust_nnls` with every column scaled to unit size first (MACs and per-op constants
    differ by ten orders of magnitude), the solution scaled back."""
    col = np.abs(a).max(axis=0)
    col[col == 0] = 1.0
    return robust_nnls(a / col, y) / col


def fit(samples: Iterable[Sample]) -> Coeffs:
    """Fit each category's coefficients by robust non-negative least squares on relative error."""
    by_cat: dict[str, list[Sample]] = {}
    for s in samples:
        by_cat.setdefault(s.op.category, []).append(s)
    coeffs = {}
    for cat, group in by_cat.items():
        a = np.array([s.op.features(s.batch) for s in group], dtype=np.float64)
        y = np.array([s.ms for s in group], dtype=np.float64)
        if np.any(y <= 0):
            bad = next(s for s in group if s.ms <= 0)
            raise CalibrationError(f"non-positive timing of {bad.name!r} ({bad.ms} ms)")
        x = _solve_scaled(a / y[:, None], np.ones(len(y)))
        coeffs[cat] = tuple(float(v) for v in x)
    return coeffs  # type: ignore[return-value]


#: In-situ rows: a sample's error counts relative to its time, but never to less than this (ms):
#: a module of a few microseconds is timed with the hooks' own overhead.
INSITU_FLOOR_MS = 0.05
FEATURES_PER_CATEGORY = 4


def fit_insitu(rows: Sequence[NodeSample], extra: Sequence[Sample] = (), batch: int = 1) -> Coeffs:
    """Fit every category's coefficients, its glue's included, jointly on in-situ module times.

    Each row is one timed module (:class:`hirisearch.latency.insitu.NodeSample`): its time is the
    sum of its operators' category models, glue records included. ``extra`` single-operator samples
    (micro-benchmarks) join as rows of one operator. Robust non-negative least squares on relative
    error (floored at :data:`INSITU_FLOOR_MS`).

    Returns:
        coefficients per category present (``glue_<category>`` among them).
    """
    cats = sorted({op.category for r in rows for op in r.ops} | {s.op.category for s in extra})
    unknown = [c for c in cats if c not in CATEGORIES]
    if unknown:
        raise CalibrationError(f"no operator model for categories {unknown}")
    index = {c: i * FEATURES_PER_CATEGORY for i, c in enumerate(cats)}
    n = len(cats) * FEATURES_PER_CATEGORY
    a_rows, ys = [], []
    for ops, ms in [(r.ops, r.ms) for r in rows] + [((s.op,), s.ms) for s in extra]:
        row = np.zeros(n)
        for op in ops:
            k = index[op.category]
            row[k : k + FEATURES_PER_CATEGORY] += op.features(batch)
        a_rows.append(row)
        ys.append(ms)
    if not a_rows:
        raise CalibrationError("no in-situ samples to fit")
    a = np.array(a_rows)
    y = np.array(ys)
    if np.any(y < 0):
        raise CalibrationError("negative in-situ timing")
    w = np.maximum(y, INSITU_FLOOR_MS)
    x = _solve_scaled(a / w[:, None], y / w)
    return {
        c: tuple(float(v) for v in x[k : k + FEATURES_PER_CATEGORY])  # type: ignore[misc]
        for c, k in index.items()
    }


#: Whole-network fit: weight of the prior that each category's network factor is 1, in units of one
#: network's relative error; and how many networks' worth of prior pulls a family's factor
#: towards 1 (a family with few networks keeps most of the shared model).
SCALE_PRIOR = 0.1
FAMILY_PRIOR_NETWORKS = 0.1
#: Gauss-Newton iterations of the whole-network fit (it converges in a handful).
FIT_ITERATIONS = 30
#: Plain least-squares iterations before the Huber weights start.
PLAIN_ITERATIONS = 5
#: Relative timing noise below which no network counts as an outlier in the Huber weights.
NOISE_FLOOR = 0.02
#: Smallest category factor (keeps every factor positive).
MIN_SCALE = 1e-3


def fit_network_scales(
    networks: Sequence[tuple[CostNode, float, str | None]],
    calibration: Calibration,
    batch: int = 1,
) -> tuple[dict[str, float], dict[str, float]]:
    """What whole networks, timed without hooks, take beyond the category models: a factor per
    category shared by every family, and a factor per family for what the cost tree does not
    name (fused or materialised attention, convs on token layouts, layout copies).

    The model is ``network = family_factor * sum_c scale_c * predicted_c``, fitted on the log of
    the times (relative error) by Gauss-Newton with Huber weights (:data:`HUBER_K`,
    :data:`NOISE_FLOOR`), each category factor pulled towards 1 with weight :data:`SCALE_PRIOR` and
    each family's log factor towards 0 with :data:`FAMILY_PRIOR_NETWORKS` networks' worth of weight. Categories absent from the
    networks keep factor 1; fewer than two networks fit nothing.

    Args:
        networks: ``(cost tree, measured ms, family name or None)`` per network.
        calibration: the category models (its ``scales`` and ``family_scales`` are ignored).

    Returns:
        ``(scales, family_scales)``.
    """
    if len(networks) < 2:
        return {}, {}
    base = replace(calibration, scales={}, family_scales={})
    preds = []
    for tree, t, _ in networks:
        if t <= 0:
            raise CalibrationError(f"non-positive network timing ({t} ms)")
        preds.append(predict_ops_ms(tree_ops(tree), base, batch))
    cats = sorted({c for p in preds for c, v in p.items() if v > 0})
    fams = sorted({f for *_, f in networks if f})
    a = np.array([[p.get(c, 0.0) for c in cats] for p in preds])
    log_y = np.log([t for _, t, _ in networks])
    member = np.array([[float(f == g) for g in fams] for *_, f in networks]).reshape(len(a), -1)
    scales, log_f = np.ones(len(cats)), np.zeros(len(fams))
    prior = np.diag([SCALE_PRIOR] * len(cats) + [np.sqrt(FAMILY_PRIOR_NETWORKS)] * len(fams))
    for i in range(FIT_ITERATIONS):
        pred = a @ scales
        r = log_y - member @ log_f - np.log(pred)
        # Least squares first, then Huber weights: a family off by 20% at the start is the family
        # factor's to explain, not an outlier.
        w = np.ones(len(r))
        if i >= PLAIN_ITERATIONS:
            sigma = max(1.4826 * float(np.median(np.abs(r))), NOISE_FLOOR)
            w = np.minimum(1.0, HUBER_K * sigma / np.maximum(np.abs(r), 1e-300))
        jac = np.hstack([a / pred[:, None], member]) * np.sqrt(w)[:, None]
        at = np.concatenate([scales - 1, log_f]) * np.diag(prior)
        step, *_ = np.linalg.lstsq(
            np.vstack([jac, prior]), np.concatenate([r * np.sqrt(w), -at]), rcond=None
        )
        scales = np.maximum(scales + step[: len(cats)], MIN_SCALE)
        log_f = log_f + step[len(cats) :]
        if i >= PLAIN_ITERATIONS and np.abs(step).max() < 1e-10:
            break
    return (
        {c: float(v) for c, v in zip(cats, scales, strict=True)},
        {f: float(np.exp(v)) for f, v in zip(fams, log_f, strict=True)},
    )
