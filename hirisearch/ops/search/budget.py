"""Candidates, their analytic evaluation, and the metric registry budgets are written in.

A candidate is the base spec with the axis values put in. It is validated with the family's spec
type, planned and costed analytically (microseconds, nothing is built); a candidate the family
rejects is an *infeasible* trial carrying the one-line reason, never a crash.

Budgets and cheap objectives read :data:`METRICS`: params, GFLOPs, activations, and the latency
predicted from the device's calibration (``hirisearch calibrate``), the same number
``profile --predict`` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import SpecError
from hirisearch.models.base import SpecBase
from hirisearch.ops.search.types import BudgetSpec, Scalar, SearchSpace
from hirisearch.spec.load import spec_error_from


@dataclass(frozen=True)
class EvalContext:
    """What metrics may need beyond the candidate (e.g. a latency calibration)."""

    calibration: Any = None  # a hirisearch.latency.predict.Calibration


def _latency_ms(c: Candidate, ctx: EvalContext) -> float:
    from hirisearch.latency.predict import predict_latency_ms

    if ctx.calibration is None:  # the run loads it when a budget or objective reads latency
        raise SpecError("predicted latency needs a calibration; run `hirisearch calibrate`")
    if c.tree is None:
        raise SpecError("predicted latency of an invalid candidate")
    # A trial reads it up to three times (budget, objective, record) and samplers revisit
    # configurations: the tree walk is done once per candidate and calibration.
    hit = c.memo.get("latency_ms")
    if hit is not None and hit[0] is ctx.calibration:
        return hit[1]
    family = c.spec.family if c.spec is not None else None
    value = predict_latency_ms(c.tree, ctx.calibration, family=family)
    c.memo["latency_ms"] = (ctx.calibration, value)
    return value


@dataclass(frozen=True)
class Candidate:
    """One configuration of a space, analytically evaluated.

    ``error`` is set (and ``spec``/``plan``/``tree`` are None) when the family rejects it.
    """

    values: Mapping[str, Scalar]
    data: Mapping[str, Any]
    spec: SpecBase | None = None
    plan: Any = None
    tree: CostNode | None = None
    error: str | None = None
    #: Numbers derived from the candidate, computed once (see :func:`_latency_ms`).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def cost(self) -> Cost:
        if self.tree is None:
            raise SpecError(f"an invalid candidate has no cost: {self.error}")
        return self.tree.total


@dataclass(frozen=True)
class Metric:
    """A number computed from a candidate's analytic evaluation, in the unit its name states."""

    name: str
    unit: str
    title: str
    value: Callable[[Candidate, EvalContext], float]


METRICS: dict[str, Metric] = {
    "gmacs": Metric("gmacs", "GMACs", "GFLOPs", lambda c, ctx: c.cost.macs / 1e9),
    "params_m": Metric("params_m", "M", "params (M)", lambda c, ctx: c.cost.params / 1e6),
    "activations_m": Metric(
        "activations_m", "M", "activations (M)", lambda c, ctx: c.cost.acts / 1e6
    ),
    "latency_ms": Metric("latency_ms", "ms", "predicted latency (ms)", _latency_ms),
}
#: Metrics and objectives that read the latency calibration.
LATENCY_NAMES = ("latency_ms",)


def needs_calibration(space: SearchSpace) -> bool:
    """Whether a budget or objective of ``space`` is the predicted latency."""
    return any(b.metric in LATENCY_NAMES for b in space.budgets) or any(
        o.name in LATENCY_NAMES for o in space.objectives
    )


def load_space_calibration(space: SearchSpace, path: Any = None) -> Any:
    """The calibration of the space's device (or the file ``path``); None when nothing needs it.

    Raises:
        CalibrationError: none stored; the message names the ``hirisearch calibrate`` command.
    """
    if path is None and not needs_calibration(space):
        return None
    from hirisearch.latency.predict import load_calibration

    return load_calibration(space.device, path)


def evaluate(space: SearchSpace, values: Mapping[str, Scalar]) -> Candidate:
    """Validate, plan and cost one configuration; never builds a model."""
    data = space.apply(values)
    try:
        spec = space.family.spec_type.model_validate(data)
    except ValidationError as e:
        return Candidate(values, data, error=spec_error_from(e, file=None).one_line())
    try:
        plan = space.family.plan(spec, None)
    except SpecError as e:
        return Candidate(values, data, spec=spec, error=e.one_line())
    return Candidate(values, data, spec=spec, plan=plan, tree=space.family.cost(plan))


class Evaluator:
    """:func:`evaluate` with a cache keyed by the candidate's axis values (samplers revisit)."""

    def __init__(self, space: SearchSpace, max_entries: int = 65536) -> None:
        self.space = space
        self._paths = tuple(a.path for a in space.axes)
        self._cache: dict[tuple[Scalar, ...], Candidate] = {}
        self._max = max_entries

    def __call__(self, values: Mapping[str, Scalar]) -> Candidate:
        key = tuple(values[p] for p in self._paths)
        hit = self._cache.get(key)
        if hit is None:
            hit = evaluate(self.space, values)
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[key] = hit
        return hit


@dataclass(frozen=True)
class BudgetCheck:
    """Per budget: the metric value and the slack to each bound (>= 0 inside the budget)."""

    valid: bool
    values: tuple[float, ...]
    slack: tuple[float, ...]  # one per bound, in ``bounds`` order
    bounds: tuple[str, ...]  # "gmacs<=5", "params_m>=5"

    @property
    def feasible(self) -> bool:
        return self.valid and all(s >= 0 for s in self.slack)

    @property
    def constraints(self) -> tuple[float, ...]:
        """Optuna's convention, <= 0 is feasible: validity first, then one per bound."""
        return (0.0 if self.valid else 1.0, *(-s for s in self.slack))


def bound_labels(budgets: tuple[BudgetSpec, ...]) -> tuple[str, ...]:
    out = []
    for b in budgets:
        if b.max is not None:
            out.append(f"{b.metric}<={b.max:g}")
        if b.min is not None:
            out.append(f"{b.metric}>={b.min:g}")
    return tuple(out)


def check_budgets(
    cand: Candidate,
    budgets: tuple[BudgetSpec, ...],
    ctx: EvalContext | None = None,
    labels: tuple[str, ...] | None = None,
) -> BudgetCheck:
    """Slack of a valid candidate against every bound; an invalid one violates them all by 1."""
    ctx = ctx or EvalContext()
    labels = bound_labels(budgets) if labels is None else labels
    if not cand.valid:
        return BudgetCheck(False, (), tuple(-1.0 for _ in labels), labels)
    values, slack = [], []
    for b in budgets:
        v = METRICS[b.metric].value(cand, ctx)
        values.append(v)
        if b.max is not None:
            slack.append(b.max - v)
        if b.min is not None:
            slack.append(v - b.min)
    return BudgetCheck(True, tuple(values), tuple(slack), labels)
