"""Prediction intervals of the latency predictor: how far a calibration trusts its own numbers.

Latency errors are multiplicative, so the interval is one in log space around the prediction:

    [predicted x exp(center - z s), predicted x exp(center + z s)],
    s^2 = (spread^2 + repeat^2 (1 - 1/rounds)) (1 + 1/n)

for the coverage's two-sided normal quantile ``z`` (1.645 at 90%), where, per model family:

- ``center`` and ``spread`` are the median and the standard deviation of the log residuals
  ``log(measured / predicted)`` of the family's calibration networks, each predicted by a fit that
  left that network out (:mod:`hirisearch.latency.heldout`): how wrong the predictor is on a
  network nobody fitted it on;
- ``repeat`` is the device's repeatability: the standard deviation of the log time of one
  measurement round of a network about the mean of its rounds (calibration times every network in
  several rounds). A residual already holds the calibration's own timing noise (a network's time is
  the median of its ``rounds`` rounds, about ``1/rounds`` of one round's variance); a new
  measurement adds one round's worth, less what the residual already holds;
- ``1 + 1/n`` widens the interval for a spread estimated from ``n`` networks.

A family that was not calibrated on (a ``timm:`` model, a family without calibration networks)
gets the model of every network's residual with no family factor (``generic``). A calibration
without these statistics (made before they existed, or without whole networks) gets the stated
:data:`FALLBACK`, never a zero-width interval: the result says which (``basis``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from hirisearch.errors import CalibrationError

__all__ = [
    "DEFAULT_COVERAGE",
    "FALLBACK",
    "FALLBACK_NOTE",
    "ErrorModel",
    "Intervals",
    "Prediction",
    "check_coverage",
    "z_of",
]

#: The coverage of an interval when none is asked for.
DEFAULT_COVERAGE = 0.9
#: Version of the ``intervals`` field of a calibration file.
INTERVALS_VERSION = 1
#: Fewest held-out networks a family's own error model is used from (else ``generic``).
MIN_NETWORKS = 4


def check_coverage(coverage: float, what: str = "coverage") -> float:
    """``coverage`` if ``0 < coverage < 1``; else a :class:`CalibrationError` saying so."""
    if not (isinstance(coverage, int | float) and 0.0 < coverage < 1.0):
        raise CalibrationError(f"`0 < {what} < 1` must hold, but got {what}={coverage!r}")
    return float(coverage)


def z_of(coverage: float) -> float:
    """The two-sided standard normal quantile of ``coverage`` (1.645 at 0.9)."""
    return NormalDist().inv_cdf(0.5 + check_coverage(coverage) / 2)


@dataclass(frozen=True)
class ErrorModel:
    """The log-space error of predictions of one family (or of any model: ``generic``)."""

    #: Held-out calibration networks the residuals come from.
    n: int
    #: Median log residual ``log(measured / predicted)`` (> 0: the predictor is low).
    center: float
    #: Standard deviation of the log residuals.
    spread: float
    #: Standard deviation of one measurement round's log time about its network's mean.
    repeat: float
    #: Rounds a calibration network's time is the median of.
    rounds: int = 3

    @property
    def sigma(self) -> float:
        """The log-space standard deviation of a new measurement about the prediction."""
        noise = self.repeat**2 * (1.0 - 1.0 / max(self.rounds, 1))
        small = 1.0 + 1.0 / self.n if self.n > 0 else 1.0
        return math.sqrt((self.spread**2 + noise) * small)

    def factors(self, coverage: float) -> tuple[float, float]:
        """The interval's ends as factors of the prediction, ``(low, high)``."""
        half = z_of(coverage) * self.sigma
        return math.exp(self.center - half), math.exp(self.center + half)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "center": self.center,
            "spread": self.spread,
            "repeat": self.repeat,
            "rounds": self.rounds,
        }

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> ErrorModel:
        return ErrorModel(
            int(doc["n"]),
            float(doc["center"]),
            float(doc["spread"]),
            float(doc["repeat"]),
            int(doc.get("rounds", 3)),
        )


#: The interval of a calibration that holds no error statistics: a log-normal error of 13.6%
#: (90% of measurements within x/÷1.25 of the prediction), what this predictor's held-out accuracy
#: was before calibrations measured their own (docs/latency.md: 79-100% of random configurations
#: within ±20% per family).
FALLBACK = ErrorModel(n=0, center=0.0, spread=math.log(1.25) / 1.645, repeat=0.0, rounds=1)
#: What the terminal says under a prediction whose interval is :data:`FALLBACK`.
FALLBACK_NOTE = (
    "the latency calibration holds no held-out errors (made before they were measured): the "
    "predicted interval is the fallback, x/÷1.25 at 90%; run `hirisearch calibrate` again"
)


@dataclass(frozen=True)
class Intervals:
    """A calibration's error models: per family and ``generic`` (see the module docstring)."""

    families: dict[str, ErrorModel] = field(default_factory=dict)
    generic: ErrorModel | None = None
    #: How the residuals were held out.
    method: str = "leave-one-network-out"
    version: int = INTERVALS_VERSION

    def model(self, family: str | None) -> tuple[ErrorModel, str]:
        """The error model of ``family`` and its basis: ``held-out <family>``, ``held-out (all
        families)`` for a family without enough networks, or ``fallback``."""
        own = self.families.get(family) if family else None
        if own is not None and own.n >= MIN_NETWORKS:
            return own, f"held-out {family}"
        if self.generic is not None and self.generic.n >= MIN_NETWORKS:
            return self.generic, "held-out (all families)"
        return FALLBACK, "fallback"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "method": self.method,
            "families": {f: m.to_json() for f, m in sorted(self.families.items())},
            "generic": None if self.generic is None else self.generic.to_json(),
        }

    @staticmethod
    def from_json(doc: Mapping[str, Any] | None) -> Intervals | None:
        """The stored intervals; None for a file without them or of another version (the
        predictions then use :data:`FALLBACK`)."""
        if not doc or doc.get("version") != INTERVALS_VERSION:
            return None
        generic = doc.get("generic")
        return Intervals(
            {str(f): ErrorModel.from_json(m) for f, m in doc.get("families", {}).items()},
            None if generic is None else ErrorModel.from_json(generic),
            str(doc.get("method", "")),
        )


def interval_model(intervals: Intervals | None, family: str | None) -> tuple[ErrorModel, str]:
    """The error model a prediction of ``family`` uses, and its basis (:meth:`Intervals.model`;
    ``fallback`` without intervals)."""
    if intervals is None:
        return FALLBACK, "fallback"
    return intervals.model(family)


@dataclass(frozen=True)
class Prediction:
    """A predicted latency with its interval."""

    ms: float
    low_ms: float
    high_ms: float
    coverage: float
    #: Where the interval comes from (:meth:`Intervals.model`): ``fallback`` when the calibration
    #: holds no error statistics.
    basis: str

    @staticmethod
    def of(ms: float, model: ErrorModel, basis: str, coverage: float) -> Prediction:
        lo, hi = model.factors(coverage)
        return Prediction(ms, ms * lo, ms * hi, coverage, basis)

    @property
    def fallback(self) -> bool:
        return self.basis == "fallback"

    def to_json(self) -> dict[str, Any]:
        """``predicted_ms``, ``predicted_interval_ms`` ``[low, high]``, ``predicted_coverage`` and
        ``predicted_interval_basis``."""
        return {
            "predicted_ms": self.ms,
            "predicted_interval_ms": [self.low_ms, self.high_ms],
            "predicted_coverage": self.coverage,
            "predicted_interval_basis": self.basis,
        }
