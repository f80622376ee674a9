"""Budgets: bounds on metrics (:mod:`hirisearch.ops.search.metrics`) that a feasible candidate
keeps within, as slacks (>= 0 inside) and as Optuna constraints (<= 0 feasible)."""

from __future__ import annotations

from dataclasses import dataclass

from hirisearch.ops.search.candidate import Candidate
from hirisearch.ops.search.metrics import METRICS, EvalContext
from hirisearch.ops.search.types import BudgetSpec


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
        v = METRICS[b.metric].scalar(cand, ctx)
        values.append(v)
        if b.max is not None:
            slack.append(b.max - v)
        if b.min is not None:
            slack.append(v - b.min)
    return BudgetCheck(True, tuple(values), tuple(slack), labels)
