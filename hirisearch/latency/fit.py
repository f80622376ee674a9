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
   (shared by every family) and a factor per family;
4. :func:`fit_adaptation` -- an existing calibration adapted to this device from a dozen whole
   networks (``hirisearch calibrate --quick``).

Nothing here knows a model family: the inputs are operator records and cost trees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
    is_glue,
    predict_ops_ms,
    tree_ops,
)

if TYPE_CHECKING:
    from hirisearch.latency.insitu import NodeSample

__all__ = [
    "SCALED",
    "adapt",
    "fit_adaptation",
    "fit_family_categories",
    "fit_log_factors",
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
    """Non-negative least squares ``min |a x - y|, x >= 0`` (SciPy's Lawson-Hanson active set,
    :func:`scipy.optimize.nnls`)."""
    from scipy.optimize import nnls as scipy_nnls

    x, _ = scipy_nnls(a, y)
    return x


def _robust_sigma(r: np.ndarray) -> float:
    """The residuals' robust standard deviation: 1.4826 x their median absolute value."""
    return 1.4826 * float(np.median(np.abs(r)))


def robust_nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`nnls` with a Huber loss (:func:`scipy.optimize.least_squares`, ``loss="huber"``,
    bounds ``x >= 0``): a row whose residual exceeds :data:`HUBER_K` robust standard deviations
    counts linearly, so one disturbed timing cannot drag the fit. The scale is re-estimated from
    the residuals for up to :data:`ROBUST_ROUNDS` rounds (a fit that is exact stops at once); each
    round ends with :func:`nnls` under the Huber weights of its solution, so a coefficient that
    belongs at 0 is exactly 0."""
    from scipy.optimize import least_squares

    x = nnls(a, y)
    floor = 1e-12 * max(1.0, float(np.abs(y).max()))
    for _ in range(ROBUST_ROUNDS):
        sigma = _robust_sigma(y - a @ x)
        if sigma <= floor:
            return x
        x = least_squares(
            lambda v: a @ v - y,
            x,
            jac=lambda v: a,
            bounds=(0.0, np.inf),
            loss="huber",
            f_scale=HUBER_K * sigma,
            x_scale="jac",
            ftol=1e-12,
            xtol=1e-12,
            gtol=1e-12,
        ).x
        # The bounded solver stays inside the bounds (a coefficient that belongs at 0 ends near
        # it); :func:`nnls` under the Huber weights of that solution puts it on the bound.
        w = np.sqrt(np.minimum(1.0, HUBER_K * sigma / np.maximum(np.abs(y - a @ x), 1e-300)))
        x = nnls(a * w[:, None], y * w)
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


#: A family's category factor (:func:`fit_family_categories`) needs this many of its operators
#: timed in situ, and stays within these bounds.
FAMILY_CATEGORY_MIN_SAMPLES = 5
FAMILY_CATEGORY_BOUNDS = (0.25, 4.0)


def fit_family_categories(
    samples: Iterable[tuple[str | None, Sample]], coeffs: Coeffs
) -> dict[str, dict[str, float]]:
    """Per family and operator category, how much slower the family's operators run in situ than
    the shared category model says: the family's single-operator in-situ samples' measured total
    over the model's (the large operators count the most, as in a network). A family's code may
    call other kernels or layouts than the rest for the same counted work (depth-wise
    convolutions on views of token layouts, attention on five-dimensional stripes taking the
    unfused path); the shared model cannot carry both.

    Args:
        samples: ``(family, in-situ sample of one operator)``; samples of no family are ignored.
        coeffs: the fitted category models.

    Returns:
        ``{family: {category: factor}}`` for every (family, category) with at least
        :data:`FAMILY_CATEGORY_MIN_SAMPLES` samples.
    """
    sums: dict[tuple[str, str], list[float]] = {}
    for family, s in samples:
        c = coeffs.get(s.op.category)
        if family is None or c is None or is_glue(s.op.category):
            continue
        model = float(sum(a * f for a, f in zip(c, s.op.features(s.batch), strict=True)))
        acc = sums.setdefault((family, s.op.category), [0.0, 0.0, 0.0])
        acc[0] += s.ms
        acc[1] += model
        acc[2] += 1
    out: dict[str, dict[str, float]] = {}
    low, high = FAMILY_CATEGORY_BOUNDS
    for (family, cat), (measured, model, n) in sorted(sums.items()):
        if n >= FAMILY_CATEGORY_MIN_SAMPLES and model > 0 and measured > 0:
            out.setdefault(family, {})[cat] = float(np.clip(measured / model, low, high))
    return out


#: Whole-network fit: weight of the prior that each category's network factor is 1, in units of one
#: network's relative error; and how many networks' worth of prior pulls a family's factor
#: towards 1 (a family with few networks keeps most of the shared model).
SCALE_PRIOR = 0.1
FAMILY_PRIOR_NETWORKS = 0.1
#: Relative timing noise below which no network counts as an outlier in the Huber loss.
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
    the times (relative error) by :func:`scipy.optimize.least_squares` (bounds: every category
    factor at least :data:`MIN_SCALE`): first by plain least squares, then with a Huber loss on the
    networks' residuals (:data:`HUBER_K` robust standard deviations of the first fit's residuals,
    at least :data:`NOISE_FLOOR`), each category factor pulled towards 1 with weight
    :data:`SCALE_PRIOR` and each family's log factor towards 0 with
    :data:`FAMILY_PRIOR_NETWORKS` networks' worth of weight (the priors always quadratic).
    Categories absent from the networks keep factor 1; fewer than two networks fit nothing.

    Args:
        networks: ``(cost tree, measured ms, family name or None)`` per network.
        calibration: the category models and the families' category factors (its ``scales``
            and ``family_scales`` are ignored).

    Returns:
        ``(scales, family_scales)``.
    """
    if len(networks) < 2:
        return {}, {}
    base = replace(calibration, scales={}, family_scales={})
    preds = []
    for tree, t, family in networks:
        if t <= 0:
            raise CalibrationError(f"non-positive network timing ({t} ms)")
        preds.append(predict_ops_ms(tree_ops(tree), base, batch, family))
    cats = sorted({c for p in preds for c, v in p.items() if v > 0})
    fams = sorted({f for *_, f in networks if f})
    a = np.array([[p.get(c, 0.0) for c in cats] for p in preds])
    member = np.array([[float(f == g) for g in fams] for *_, f in networks]).reshape(len(a), -1)
    prior = np.array([SCALE_PRIOR] * len(cats) + [np.sqrt(FAMILY_PRIOR_NETWORKS)] * len(fams))
    x = fit_log_factors(a, np.log([t for _, t, _ in networks]), member, prior)
    return (
        {c: float(v) for c, v in zip(cats, x[: len(cats)], strict=True)},
        {f: float(np.exp(v)) for f, v in zip(fams, x[len(cats) :], strict=True)},
    )


def fit_log_factors(
    a: np.ndarray,
    log_y: np.ndarray,
    member: np.ndarray,
    prior: np.ndarray,
    center: np.ndarray | None = None,
) -> np.ndarray:
    """Fit ``log_y = member @ g + log(a @ s)``: factors ``s`` (one per column of ``a``, bounded
    below by :data:`MIN_SCALE`) and log factors ``g`` (one per column of ``member``), each pulled
    towards ``center`` (default: every ``s`` 1, every ``g`` 0) with weight ``prior``; plain least
    squares, then a Huber loss on the data rows (the prior rows stay quadratic).

    Returns:
        ``s`` then ``g``, concatenated.
    """
    from scipy.optimize import least_squares

    k = a.shape[1]
    x0 = np.concatenate([np.ones(k), np.zeros(member.shape[1])]) if center is None else center
    n = len(log_y)

    def residuals(x: np.ndarray) -> np.ndarray:
        r = log_y - member @ x[k:] - np.log(a @ x[:k])
        return np.concatenate([r, prior * (x - x0)])

    def jacobian(x: np.ndarray) -> np.ndarray:
        data = np.hstack([-a / (a @ x[:k])[:, None], -member])
        return np.vstack([data, np.diag(prior)])

    lower = np.concatenate([np.full(k, MIN_SCALE), np.full(member.shape[1], -np.inf)])

    def solve(x: np.ndarray, loss: str | Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        fitted = least_squares(
            residuals, x, jac=jacobian, bounds=(lower, np.inf), loss=loss,
            ftol=1e-12, xtol=1e-12, gtol=1e-12,
        )  # fmt: skip
        return np.asarray(fitted.x)

    x = solve(np.maximum(x0, lower + 1e-9), "linear")
    sigma = max(_robust_sigma(residuals(x)[:n]), NOISE_FLOOR)
    return solve(x, _huber_on_first(n, HUBER_K * sigma))


def _huber_on_first(n: int, c: float) -> Callable[[np.ndarray], np.ndarray]:
    """A Huber loss (threshold ``c``) on the first ``n`` residuals, plain squares on the rest: the
    ``rho(z)`` of :func:`scipy.optimize.least_squares`, ``z`` the squared residuals."""

    def rho(z: np.ndarray) -> np.ndarray:
        out = np.vstack([z, np.ones_like(z), np.zeros_like(z)])
        big = np.zeros(len(z), dtype=bool)
        big[:n] = z[:n] > c * c
        root = np.sqrt(z[big])
        out[0, big] = 2 * c * root - c * c
        out[1, big] = c / root
        out[2, big] = -c / (2 * z[big] * root)
        return out

    return rho


#: Quick adaptation (:func:`fit_adaptation`): weights of the priors that hold each category factor
#: and each family factor at the base calibration's (in units of one network's relative error);
#: the global factor, shared by every operator, is nearly free.
ADAPT_GLOBAL_PRIOR = 0.01
ADAPT_SCALE_PRIOR = 0.5
ADAPT_FAMILY_PRIOR = 0.5


def fit_adaptation(
    networks: Sequence[tuple[CostNode, float, str | None]],
    base: Calibration,
    batch: int = 1,
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Adapt ``base`` (another device's calibration, or an older one of this device) from a few
    whole networks timed here, the way HELP adapts from a handful of measurements: the model is
    ``network = g * family_factor * sum_c factor_c * base_c``, ``base_c`` the base calibration's
    per-category prediction (its category and family factors included), fitted on the log of the
    times (:func:`fit_log_factors`) with ``g`` nearly free (:data:`ADAPT_GLOBAL_PRIOR`) and every
    category and family factor held near 1 (:data:`ADAPT_SCALE_PRIOR`,
    :data:`ADAPT_FAMILY_PRIOR`): a dozen networks move the whole device, and a category or family
    only as far as the timings insist.

    Args:
        networks: ``(cost tree, measured ms, family name or None)`` per network.
        base: the calibration adapted.

    Returns:
        ``(g, factor per category, factor per family)`` (every factor relative to the base).
    """
    if not networks:
        raise CalibrationError("no network timings to adapt the calibration from")
    preds = []
    for tree, t, fam in networks:
        if t <= 0:
            raise CalibrationError(f"non-positive network timing ({t} ms)")
        factor = base.family_scales.get(fam, 1.0) if fam else 1.0
        per_category = predict_ops_ms(tree_ops(tree), base, batch, fam)
        preds.append({c: v * factor for c, v in per_category.items()})
    cats = sorted({c for p in preds for c, v in p.items() if v > 0})
    fams = sorted({f for *_, f in networks if f})
    a = np.array([[p.get(c, 0.0) for c in cats] for p in preds])
    member = np.array([[1.0] + [float(f == g) for g in fams] for *_, f in networks])
    prior = np.array(
        [ADAPT_SCALE_PRIOR] * len(cats) + [ADAPT_GLOBAL_PRIOR] + [ADAPT_FAMILY_PRIOR] * len(fams)
    )
    x = fit_log_factors(a, np.log([t for _, t, _ in networks]), member, prior)
    k = len(cats)
    return (
        float(np.exp(x[k])),
        {c: float(v) for c, v in zip(cats, x[:k], strict=True)},
        {f: float(np.exp(v)) for f, v in zip(fams, x[k + 1 :], strict=True)},
    )


def adapt(networks: Sequence[tuple[CostNode, float, str | None]], base: Calibration) -> Calibration:
    """``base`` adapted to the timings ``networks`` (:func:`fit_adaptation`): its category factors
    times the global and category factors fitted here, its family factors times the fitted ones;
    everything else (category models, intervals, what it is) as ``base`` has it."""
    g, factors, families = fit_adaptation(networks, base)
    scales = {c: base.scales.get(c, 1.0) * g * factors.get(c, 1.0) for c in base.coeffs}
    family_scales = {
        f: base.family_scales.get(f, 1.0) * families.get(f, 1.0)
        for f in {*base.family_scales, *families}
    }
    return replace(base, scales=scales, family_scales=family_scales)
