"""The exact mode's numbers of one section of a cost tree: params, MACs, activations (integers) and
the predicted latency, a fixed-point number (see :data:`LATENCY_QUANTUM`).

The predicted latency is linear: each operator's time is a dot product of its features (MACs,
elements, params, count) with its category's coefficients times the category's in-network factor
(:meth:`hirisearch.latency.predict.Calibration.op_ms`), the glue records sum features of the
operators per category (:func:`hirisearch.latency.predict.glue_ops`), and the family's factor
multiplies the whole. So a node's latency is a dot product of its *feature matrix* (per category,
the summed features of its operators and of their glue) with one weight matrix, read off
``Calibration.op_ms`` on unit operators; feature matrices add over children, and a node shared by
many parents (the identical blocks of a stage) is walked once per process. The numbers are those
of :func:`~hirisearch.latency.predict.predict_latency_ms` up to floating-point rounding
(``tests/search/test_exact.py`` checks them on every shipped space).

Latency per section is rounded to a multiple of :data:`LATENCY_QUANTUM` (2**-30 ms, about a
femtosecond), so that sums of sections are exact in float64 whatever their order: enumeration and
the section-wise front then add the very same numbers, and a partial sum that is smaller than
another stays smaller once the same sections are added to both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hirisearch.cost.types import Cost, CostNode
from hirisearch.latency.predict import CATEGORIES, Op, cost_ops, glue_ops

#: Predicted latency is held in multiples of this many milliseconds (exact float64 sums below
#: 2**22 ms).
LATENCY_QUANTUM = 2.0**-30
#: Feature matrices kept by node (a search walks the same shared nodes many times).
MEMO_MAX = 200_000

_INDEX = {c: k for k, c in enumerate(CATEGORIES)}
Metrics = tuple[int, int, int, float]


def quantize_ms(ms: float) -> float:
    """``ms`` rounded to a multiple of :data:`LATENCY_QUANTUM`."""
    return round(ms / LATENCY_QUANTUM) * LATENCY_QUANTUM


def own_cost(node: CostNode) -> Cost:
    """The node's cost less its children's (the work the node does itself)."""
    c = node.total
    for _, ch in node.children:
        t = ch.total
        c = Cost(c.params - t.params, c.conv - t.conv, c.linear - t.linear, c.attn - t.attn,
                 c.other - t.other, c.norm - t.norm, c.acts - t.acts)  # fmt: skip
    return c


def _op_features(ops: list[Op]) -> np.ndarray:
    out = np.zeros((len(CATEGORIES), 4))
    for op in [*ops, *glue_ops(ops)]:
        out[_INDEX[op.category]] += op.features(1)
    return out


class Terms:
    """Section metrics under one calibration (``None``: latency 0) and model family."""

    def __init__(self, calibration: Any = None, family: str | None = None) -> None:
        self.calibration = calibration
        self.family = family
        self.factor = 1.0
        self.weights = np.zeros((len(CATEGORIES), 4))
        if calibration is not None:
            self.factor = calibration.family_scales.get(family, 1.0) if family else 1.0
            self._known = np.zeros(len(CATEGORIES), dtype=bool)
        self._memo: dict[int, tuple[CostNode, np.ndarray]] = {}
        self._own: dict[int, tuple[CostNode, np.ndarray]] = {}

    def _weights(self, used: np.ndarray) -> np.ndarray:
        """The weight rows of the categories ``used`` (read from ``op_ms`` on unit operators;
        a category the calibration lacks raises its error only when used)."""
        for k in np.flatnonzero(used & ~self._known):
            cat = CATEGORIES[int(k)]
            units = (Op(cat, macs=1, count=0), Op(cat, elements=1, count=0),
                     Op(cat, params=1, count=0), Op(cat, count=1))  # fmt: skip
            self.weights[k] = [self.calibration.op_ms(u, family=self.family) for u in units]
            self._known[k] = True
        return self.weights

    def features(self, node: CostNode) -> np.ndarray:
        """The node's feature matrix (categories x (MACs, elements, params, operators))."""
        hit = self._memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        own = self.own_features(node)
        for _, child in node.children:
            own = own + self.features(child)
        if len(self._memo) >= MEMO_MAX:
            self._memo.clear()
        self._memo[id(node)] = (node, own)
        return own

    def own_features(self, node: CostNode) -> np.ndarray:
        """The feature matrix of the node's own work (its cost less its children's)."""
        hit = self._own.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        out = _op_features(cost_ops(own_cost(node)))
        if len(self._own) >= MEMO_MAX:
            self._own.clear()
        self._own[id(node)] = (node, out)
        return out

    def of(self, node: CostNode | None, own: bool = False) -> Metrics:
        """params, MACs, activations and the quantized predicted latency (ms) of ``node`` (with
        ``own``: of its own work only)."""
        if node is None:
            return (0, 0, 0, 0.0)
        c = own_cost(node) if own else node.total
        lat = 0.0
        if self.calibration is not None:
            f = self.own_features(node) if own else self.features(node)
            used = np.asarray(f.any(axis=1), dtype=bool)
            lat = quantize_ms(float((f * self._weights(used)).sum()) * self.factor)
        return (c.params, c.macs, c.acts, lat)
