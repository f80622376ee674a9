"""What both exact methods share: the space's bounds and objectives as functions of the summed
totals (the metrics' vector forms), and :class:`Sweep`, what a method found.

Enumeration (:mod:`hirisearch.ops.search.enumeration`) and the section-wise front
(:mod:`hirisearch.ops.search.sections`) judge complete configurations with these same functions,
so their fronts are the same numbers, compared the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hirisearch.errors import ExactError
from hirisearch.ops.search.budget import bound_labels
from hirisearch.ops.search.metrics import METRICS
from hirisearch.ops.search.pareto import front_mask
from hirisearch.ops.search.types import SearchSpace

Totals = dict[str, np.ndarray]


@dataclass
class Sweep:
    """What an exact method found. ``None`` counts were not computed (the section-wise method
    counts configurations by distinct partial sums, and gives up above a bound)."""

    size: int
    method: str = "enumerate"
    valid: int = 0
    feasible: int | None = 0
    invalid_reasons: dict[str, int] = field(default_factory=dict)
    violations: dict[str, int | None] = field(default_factory=dict)  # bound label -> count
    front_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    front_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    seconds: float = 0.0
    #: The section-wise method: steps, the partial fronts (one per step and value of the axes
    #: shared with later sections) and the partial sums they kept, the most at one step.
    steps: int = 0
    partial_fronts: int = 0
    partial_sums: int = 0
    largest_step: int = 0


@dataclass(frozen=True)
class Bound:
    """One bound of a budget: ``metric`` at most (``max``) or at least (``min``) ``limit``."""

    label: str
    metric: str
    kind: str
    limit: float

    def inside(self, totals: Totals) -> np.ndarray:
        """Whether each configuration keeps within the bound (as the scalar check judges)."""
        col = column(totals, self.metric)
        return (self.limit - col >= 0) if self.kind == "max" else (col - self.limit >= 0)


def bounds(space: SearchSpace) -> list[Bound]:
    """The space's bounds, in the order of their labels."""
    out = []
    for b in space.budgets:
        if b.max is not None:
            out.append((b.metric, "max", b.max))
        if b.min is not None:
            out.append((b.metric, "min", b.min))
    labels = bound_labels(space.budgets)
    return [Bound(label, *b) for label, b in zip(labels, out, strict=True)]


def column(totals: Totals, name: str) -> np.ndarray:
    """The metric ``name`` of every configuration, by its vector form, from the summed totals."""
    metric = METRICS.get(name)
    if metric is None or metric.vector is None:
        valid = ", ".join(n for n, m in METRICS.items() if m.vector is not None)
        raise ExactError(f"the exact mode has no metric {name!r}; valid: {valid}")
    return metric.vector(totals)


def signs(space: SearchSpace) -> np.ndarray:
    """+1 for a minimised objective, -1 for a maximised one."""
    return np.array([1.0 if o.direction == "minimize" else -1.0 for o in space.objectives])


def points(space: SearchSpace, totals: Totals) -> np.ndarray:
    """The objectives of every configuration, all turned into "smaller is better"."""
    cols = [column(totals, o.name) for o in space.objectives]
    return np.stack(cols, axis=1).astype(np.float64) * signs(space)


def merge_front(
    f_idx: np.ndarray, f_pts: np.ndarray, idx: np.ndarray, pts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The front of a front and new points (of identical points, the smallest index is kept)."""
    keep = front_mask(pts, idx)
    f_idx = np.concatenate((f_idx, idx[keep]))
    f_pts = np.concatenate((f_pts, pts[keep]))
    keep = front_mask(f_pts, f_idx)
    return f_idx[keep], f_pts[keep]


def finish(out: Sweep, space: SearchSpace, f_idx: np.ndarray, f_pts: np.ndarray) -> None:
    """Store the front in ``out``, ordered by its objectives (then index), in their units."""
    order = np.lexsort((f_idx, *f_pts.T[::-1]))
    out.front_index, out.front_points = f_idx[order], f_pts[order] * signs(space)
