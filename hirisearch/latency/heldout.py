"""What a calibration knows about its own errors: held-out residuals of its calibration networks
and the device's repeatability, summarised per family as the error models of
:mod:`hirisearch.latency.interval`.

Each calibration network is predicted by the whole-network fit
(:func:`hirisearch.latency.fit.fit_network_scales`: the category and family factors) made on the
other networks alone (leave one network out); the category models underneath stay those of the
full calibration (the networks sized as searches draw them are timed whole only, so none of their
modules is in those fits). The residual ``log(measured / predicted)`` of every network, grouped by
family, gives each family's center and spread; predicted without any family factor, every
network's residual gives the ``generic`` model of a family not calibrated on.

A quick calibration (:func:`hirisearch.latency.calibration.calibrate_quick`) has its own error
model, measured the same way (:func:`adapted_intervals`): each of its networks is predicted by the
adaptation fitted on the others; with two networks per family, the residuals are pooled over the
families into one model that every prediction uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from hirisearch.cost.types import CostNode
from hirisearch.latency.fit import adapt, fit_network_scales
from hirisearch.latency.interval import ErrorModel, Intervals
from hirisearch.latency.predict import Calibration, predict_latency_ms, predict_ops_ms, tree_ops

__all__ = [
    "Residual",
    "adapted_intervals",
    "error_models",
    "held_out_residuals",
    "repeatability",
    "with_intervals",
]


@dataclass(frozen=True)
class Residual:
    """One calibration network predicted by a fit that left it out."""

    family: str | None
    measured_ms: float
    predicted_ms: float  # with the family factor fitted on the family's other networks
    generic_ms: float  # with the category factors alone

    @property
    def log_error(self) -> float:
        return math.log(self.measured_ms / self.predicted_ms)

    @property
    def generic_log_error(self) -> float:
        return math.log(self.measured_ms / self.generic_ms)


def held_out_residuals(
    networks: Sequence[tuple[CostNode, float, str | None]],
    calibration: Calibration,
    batch: int = 1,
) -> list[Residual]:
    """Every network of ``networks`` (``(tree, measured ms, family)``) predicted from the
    whole-network fit on the others; ``calibration`` gives the category models."""
    base = replace(calibration, scales={}, family_scales={})
    ops = [tree_ops(tree) for tree, _, _ in networks]
    # Per category, as the family's model predicts it (its category factors) and as a model of a
    # family not calibrated on does (none).
    own = [predict_ops_ms(o, base, batch, f) for o, (_, _, f) in zip(ops, networks, strict=True)]
    shared = [predict_ops_ms(o, base, batch) for o in ops]
    out = []
    for i, (_, ms, family) in enumerate(networks):
        others = [n for j, n in enumerate(networks) if j != i]
        scales, families = fit_network_scales(others, calibration, batch)
        generic = sum(v * scales.get(c, 1.0) for c, v in shared[i].items())
        mine = sum(v * scales.get(c, 1.0) for c, v in own[i].items())
        factor = families.get(family, 1.0) if family else 1.0
        out.append(Residual(family, ms, mine * factor, generic))
    return out


def repeatability(rounds: Sequence[Sequence[float]]) -> tuple[float, int]:
    """The pooled standard deviation of one round's log time about its network's mean log time,
    and the number of degrees of freedom it has (0: no network with two rounds)."""
    ss, dof = 0.0, 0
    for times in rounds:
        if len(times) < 2:
            continue
        logs = np.log(np.asarray(times, dtype=np.float64))
        ss += float(((logs - logs.mean()) ** 2).sum())
        dof += len(logs) - 1
    return (math.sqrt(ss / dof) if dof else 0.0), dof


def _model(errors: Sequence[float], repeat: float, rounds: int) -> ErrorModel:
    r = np.asarray(errors, dtype=np.float64)
    center = float(np.median(r))
    spread = float(np.sqrt(((r - center) ** 2).sum() / (len(r) - 1))) if len(r) > 1 else 0.0
    return ErrorModel(len(r), center, spread, repeat, rounds)


def error_models(residuals: Sequence[Residual], rounds: Sequence[Sequence[float]]) -> Intervals:
    """Per family and generic error models from the held-out ``residuals`` and the networks'
    round times ``rounds`` (in the same order)."""
    n_rounds = max((len(t) for t in rounds), default=1)
    families = sorted({r.family for r in residuals if r.family})
    models = {}
    for f in families:
        own = [k for k, r in enumerate(residuals) if r.family == f]
        repeat, _ = repeatability([rounds[k] for k in own])
        models[f] = _model([residuals[k].log_error for k in own], repeat, n_rounds)
    generic = None
    if residuals:
        repeat, _ = repeatability(rounds)
        generic = _model([r.generic_log_error for r in residuals], repeat, n_rounds)
    return Intervals(models, generic)


def with_intervals(
    calibration: Calibration,
    networks: Sequence[tuple[CostNode, float, str | None]],
    rounds: Sequence[Sequence[float]],
    batch: int = 1,
) -> Calibration:
    """``calibration`` with the error models of its ``networks`` (``(tree, measured ms,
    family)``) and their ``rounds`` (each network's round times, in the same order); unchanged
    with fewer than three networks (nothing to hold out: predictions state the fallback)."""
    if len(networks) < 3:
        return calibration
    residuals = held_out_residuals(networks, calibration, batch)
    return replace(calibration, intervals=error_models(residuals, rounds))


#: How a quick calibration's residuals were held out (the ``method`` of its intervals).
ADAPTED_METHOD = "leave-one-network-out of the adaptation, families pooled"


def adapted_intervals(
    networks: Sequence[tuple[CostNode, float, str | None]],
    base: Calibration,
    rounds: Sequence[Sequence[float]],
) -> Intervals | None:
    """The error model of ``base`` adapted to ``networks`` (``(tree, measured ms, family)``,
    :func:`hirisearch.latency.fit.adapt`): every network predicted by the adaptation fitted on the
    others, its family factor included, the log residuals of all families pooled (a quick
    calibration has too few networks per family for a family's own), with the repeatability of
    the networks' ``rounds``. None with fewer than three networks."""
    if len(networks) < 3:
        return None
    errors = []
    for i, (tree, ms, family) in enumerate(networks):
        fitted = adapt([n for j, n in enumerate(networks) if j != i], base)
        errors.append(math.log(ms / predict_latency_ms(tree, fitted, family=family)))
    repeat, _ = repeatability(rounds)
    n_rounds = max((len(t) for t in rounds), default=1)
    return Intervals({}, _model(errors, repeat, n_rounds), ADAPTED_METHOD)
