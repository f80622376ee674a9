"""Candidates: one configuration of a space, analytically evaluated.

A candidate is the base spec with the axis values put in. It is validated with the family's spec
type, planned and costed analytically (microseconds, nothing is built); a candidate the family
rejects is an *infeasible* trial carrying the one-line reason, never a crash. The numbers read
from a candidate are :mod:`hirisearch.ops.search.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import SpecError
from hirisearch.models.base import SpecBase
from hirisearch.ops.search.types import Scalar, SearchSpace
from hirisearch.spec.load import spec_error_from


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
    #: Numbers derived from the candidate, computed once (the predicted latency: a trial reads
    #: it up to three times, and samplers revisit configurations).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def cost(self) -> Cost:
        if self.tree is None:
            raise SpecError(f"an invalid candidate has no cost: {self.error}")
        return self.tree.total


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
