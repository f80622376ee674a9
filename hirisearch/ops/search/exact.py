"""Exact mode: the analytic metrics of every configuration of a space, as NumPy arrays.

The analytic cost of a model is a sum over the sections of its cost tree (stem, each stage,
head, ...), and the predicted latency is a sum of per-operator terms over the same tree, so both
are sums over sections too. Each section depends on a few axes only (stage 3 on its depth, width
and FFN ratio and the width of stage 2, say). So:

1. **Discovery.** At random valid configurations every axis is moved through its values; the
   sections whose cost or predicted latency change depend on that axis, and the axes that change
   validity are the validity axes, grouped where they interact (``dims`` with ``num_heads``).
   A section whose axes span too many combinations is split into its children (and its own
   remainder) where its children are the same in every configuration.
2. **Tables.** Each section's params, MACs, activations and predicted latency are tabulated over
   the combinations of its axes by the scalar plan and cost (one source of truth: no second
   formula). Tables fill lazily, from the configurations actually met, so a section too large to
   tabulate in full is still exact; validity the same way, per group.
3. **Sweep.** Configurations are mixed-radix indices (the last axis fastest, as
   ``itertools.product``); a chunk of them becomes per-axis digits, per-section gathers and sums,
   budget masks, and the chunk's non-dominated feasible points, merged into the front.

Every number is exactly the scalar model's: integers add exactly, bounds and objectives are the
metrics' vector forms (:mod:`hirisearch.ops.search.metrics`: the same floating-point operations
as their scalar forms), and the latency sums the same per-operator terms.
``tests/search/test_exact.py`` checks the totals on random configurations of every shipped space,
``tests/search/test_metrics.py`` every metric.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import ExactError
from hirisearch.ops.search.budget import bound_labels
from hirisearch.ops.search.candidate import Candidate, evaluate
from hirisearch.ops.search.metrics import METRICS, TRAIN_METRICS, TRAIN_TOTALS, train_totals
from hirisearch.ops.search.pareto import front_mask
from hirisearch.ops.search.tables import Table
from hirisearch.ops.search.types import Scalar, SearchSpace

#: A section whose axes span more combinations than this is split into its children.
SPLIT_OVER = 4096
#: Configurations per chunk (bounded memory: ~60 bytes per configuration and axis).
CHUNK = 1 << 18
#: Valid random configurations discovery moves axes at, and the values tried per axis.
PROBES, VALUES_PER_AXIS = 10, 8
#: Depth of the cost tree below which sections may be split.
MAX_DEPTH = 3


# ------------------------------------------------------------------------ scalar oracle
def _own(node: CostNode) -> Cost:
    c = node.total
    for _, ch in node.children:
        t = ch.total
        c = Cost(c.params - t.params, c.conv - t.conv, c.linear - t.linear, c.attn - t.attn,
                 c.other - t.other, c.norm - t.norm, c.acts - t.acts)  # fmt: skip
    return c


def _sections_of(tree: CostNode, depth: int = MAX_DEPTH) -> dict[str, CostNode]:
    """Every node down to ``depth`` by path, and each one's own remainder as ``path/`` (root: ``/``)."""
    out: dict[str, CostNode] = {"/": CostNode.leaf(_own(tree))}
    for path, node in tree.walk(max_depth=depth):
        out[path] = node
        out[path + "/"] = CostNode.leaf(_own(node))
    return out


class Oracle:
    """Scalar evaluations of configurations given as digit tuples (cached)."""

    def __init__(self, space: SearchSpace, calibration: Any = None) -> None:
        self.space = space
        self.paths = tuple(a.path for a in space.axes)
        self.values = [a.values() for a in space.axes]
        self.calibration = calibration
        self.calls = 0
        self._cache: dict[tuple[int, ...], Candidate] = {}

    def values_of(self, digits: tuple[int, ...]) -> dict[str, Scalar]:
        return {p: v[d] for p, v, d in zip(self.paths, self.values, digits, strict=True)}

    def __call__(self, digits: tuple[int, ...]) -> Candidate:
        hit = self._cache.get(digits)
        if hit is None:
            self.calls += 1
            hit = evaluate(self.space, self.values_of(digits))
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[digits] = hit
        return hit

    def metrics(self, node: CostNode | None) -> tuple[int, int, int, float]:
        """params, MACs, activations, predicted latency (ms; 0 without a calibration)."""
        if node is None:
            return (0, 0, 0, 0.0)
        lat = 0.0
        if self.calibration is not None:
            from hirisearch.latency.predict import predict_latency_ms

            lat = predict_latency_ms(node, self.calibration, family=self.space.base.get("family"))
        c = node.total
        return (c.params, c.macs, c.acts, lat)


@dataclass(frozen=True)
class Section:
    path: str
    axes: tuple[str, ...]
    combinations: int


# ------------------------------------------------------------------------------ discovery
def _random_digits(rng: random.Random, radix: list[int]) -> tuple[int, ...]:
    return tuple(rng.randrange(n) for n in radix)


def _tried(n: int) -> list[int]:
    if n <= VALUES_PER_AXIS:
        return list(range(n))
    return sorted({round(k * (n - 1) / (VALUES_PER_AXIS - 1)) for k in range(VALUES_PER_AXIS)})


class Model:
    """The tabulated model of one space: sections, validity groups and their lazy tables."""

    def __init__(
        self,
        space: SearchSpace,
        calibration: Any = None,
        *,
        seed: int = 0,
        train: bool | None = None,
    ) -> None:
        """``train``: compute the training totals (None: when a budget or objective reads
        them)."""
        for a in space.axes:
            if not a.finite:
                raise ExactError(f"axis {a.path} is continuous; the exact mode needs finite axes")
        self.space = space
        self.oracle = Oracle(space, calibration)
        self.radix = [len(a.values()) for a in space.axes]
        self.size = math.prod(self.radix)
        self.strides = [math.prod(self.radix[k + 1 :]) for k in range(len(self.radix))]
        self.with_latency = calibration is not None
        names = {b.metric for b in space.budgets} | {o.name for o in space.objectives}
        self.with_train = bool(names & set(TRAIN_METRICS)) if train is None else train
        start = time.perf_counter()
        self._discover(random.Random(seed))
        self.discovery_s = time.perf_counter() - start

    # -- discovery
    def _discover(self, rng: random.Random) -> None:
        oracle, n_axes = self.oracle, len(self.radix)
        bases: list[tuple[int, ...]] = []
        invalid: list[tuple[int, ...]] = []
        base_digits = self._base_digits()
        candidates = [base_digits] if base_digits else []
        for _ in range(40 * PROBES):
            if len(bases) >= PROBES:
                break
            d = candidates.pop() if candidates else _random_digits(rng, self.radix)
            (bases if oracle(d).valid else invalid).append(d)
        self.witness = bases[0] if bases else None
        deps: dict[str, set[int]] = {}
        children: dict[str, set[tuple[str, ...]]] = {}
        validity_axes: set[int] = set()
        for x in bases + invalid[:PROBES]:
            cx = oracle(x)
            sx = self._signatures(cx) if cx.valid else {}
            if cx.valid:
                self._children(cx, children)
            for a in range(n_axes):
                for v in _tried(self.radix[a]):
                    if v == x[a]:
                        continue
                    y = (*x[:a], v, *x[a + 1 :])
                    cy = oracle(y)
                    if cy.valid != cx.valid:
                        validity_axes.add(a)
                    if cx.valid and cy.valid:
                        self._children(cy, children)
                        sy = self._signatures(cy)
                        for p in sx.keys() | sy.keys():
                            if sx.get(p) != sy.get(p):
                                deps.setdefault(p, set()).add(a)
        self.validity_axes = tuple(sorted(validity_axes))
        groups = self._validity_groups(bases, validity_axes)
        self.validity = [Table("valid:" + ",".join(map(str, g)), g, self.radix) for g in groups]
        self.errors: dict[str, dict[int, str]] = {t.name: {} for t in self.validity}
        all_axes = set(range(n_axes))
        if not bases:  # nothing valid found: every configuration is checked by the scalar model
            deps = {"": all_axes}
        self.sections = self._cut("", deps, children, all_axes if not bases else None)
        self.tables = [
            Table(p, tuple(sorted(deps.get(p, set()))), self.radix) for p in self.sections
        ]

    def _base_digits(self) -> tuple[int, ...] | None:
        from hirisearch.ops.search.types import _split

        out = []
        for a in self.space.axes:
            node: Any = self.space.base
            try:
                for part in _split(a.path):
                    node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                return None
            if node not in a.values():
                return None
            out.append(a.values().index(node))
        return tuple(out)

    def _signatures(self, c: Candidate) -> dict[str, tuple[Any, ...]]:
        assert c.tree is not None
        return {p: self.oracle.metrics(n) for p, n in _sections_of(c.tree).items()}

    @staticmethod
    def _children(c: Candidate, out: dict[str, set[tuple[str, ...]]]) -> None:
        assert c.tree is not None
        out.setdefault("", set()).add(tuple(n for n, _ in c.tree.children))
        for path, node in c.tree.walk(max_depth=MAX_DEPTH - 1):
            out.setdefault(path, set()).add(tuple(n for n, _ in node.children))

    def _cut(
        self,
        path: str,
        deps: dict[str, set[int]],
        children: dict[str, set[tuple[str, ...]]],
        forced: set[int] | None,
    ) -> list[str]:
        if forced is not None:
            deps[path] = forced
            return [path]
        size = math.prod(self.radix[a] for a in deps.get(path, set()))
        names = children.get(path, set())
        stable = len(names) == 1 and next(iter(names))
        depth = path.count(".") + 1 if path else 0
        if (path and size <= SPLIT_OVER) or not stable or depth >= MAX_DEPTH:
            return [path]
        out = [path + "/"]
        for name in next(iter(names)):
            out += self._cut(f"{path}.{name}" if path else name, deps, children, None)
        return out

    def _validity_groups(
        self, bases: list[tuple[int, ...]], axes: set[int]
    ) -> list[tuple[int, ...]]:
        """Validity axes joined where validity is not a conjunction of one condition per axis."""
        parent = {a: a for a in axes}

        def find(a: int) -> int:
            while parent[a] != a:
                a = parent[a]
            return a

        ordered = sorted(axes)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                for x in bases[:3]:
                    m = np.array(
                        [[self.oracle((*self._put(x, a, va, b, vb),)).valid
                          for vb in _tried(self.radix[b])] for va in _tried(self.radix[a])]
                    )  # fmt: skip
                    if not (m == np.outer(m.any(axis=1), m.any(axis=0))).all():
                        parent[find(a)] = find(b)
                        break
        groups: dict[int, list[int]] = {}
        for a in ordered:
            groups.setdefault(find(a), []).append(a)
        return [tuple(g) for g in groups.values()]

    @staticmethod
    def _put(x: tuple[int, ...], a: int, va: int, b: int, vb: int) -> list[int]:
        y = list(x)
        y[a], y[b] = va, vb
        return y

    @property
    def section_info(self) -> list[Section]:
        paths = [a.path for a in self.space.axes]
        return [Section(t.name, tuple(paths[a] for a in t.axes), t.size) for t in self.tables]

    # -- sweep
    def digits(self, start: int, stop: int) -> list[np.ndarray]:
        i = np.arange(start, stop, dtype=np.int64)
        return [(i // s) % n for s, n in zip(self.strides, self.radix, strict=True)]

    def _digits_of(self, digits: list[np.ndarray], k: int) -> tuple[int, ...]:
        return tuple(int(d[k]) for d in digits)

    def valid(self, digits: list[np.ndarray], n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """The validity mask, and per validity group its combination index (for the reasons)."""
        ok = np.ones(n, dtype=bool)
        idxs = []
        for t in self.validity:
            idx = t.index(digits, n)
            miss = t.missing(idx)
            if len(miss):
                keys, rows = idx[miss], []
                for k in miss:
                    d = list(self.witness or self._digits_of(digits, int(k)))
                    for a in t.axes:
                        d[a] = int(digits[a][k])
                    c = self.oracle(tuple(d))
                    rows.append((c.valid,))
                    if not c.valid:
                        self.errors[t.name][int(idx[k])] = c.error or "invalid"
                t.fill(keys, rows, (bool,))
            ok &= t.gather(idx)[0]
            idxs.append(idx)
        return ok, idxs

    def metrics(self, digits: list[np.ndarray], n: int) -> dict[str, np.ndarray]:
        """params, macs, acts (int64) and latency_ms (float64) of ``n`` valid configurations."""
        total = [np.zeros(n, dtype=np.int64) for _ in range(3)] + [np.zeros(n)]
        idxs = [t.index(digits, n) for t in self.tables]
        for t, idx in zip(self.tables, idxs, strict=True):
            miss = t.missing(idx)
            for k in miss:  # one scalar evaluation fills every section of that configuration
                self._fill_from(self._digits_of(digits, int(k)))
            for acc, col in zip(total, t.gather(idx), strict=True):
                acc += col
        out = dict(zip(("params", "macs", "acts", "latency_ms"), total, strict=True))
        if self.with_train:
            out.update(self._train_totals(digits, n))
        return out

    def _train_totals(self, digits: list[np.ndarray], n: int) -> dict[str, np.ndarray]:
        """``train_macs`` and ``train_peak`` of ``n`` valid configurations: a training step's
        peak is a maximum over its events, not a sum over sections, so each configuration is
        costed by the scalar model (its training twin, cached per plan)."""
        cols = np.zeros((2, n), dtype=np.int64)
        for k in range(n):
            c = self.oracle(self._digits_of(digits, k))
            cols[:, k] = train_totals(c, self.space.train)
        return dict(zip(TRAIN_TOTALS, cols, strict=True))

    def _fill_from(self, d: tuple[int, ...]) -> None:
        c = self.oracle(d)
        if not c.valid or c.tree is None:
            raise ExactError(
                f"internal: configuration {self.oracle.values_of(d)} was judged valid by the "
                f"validity tables but the spec rejects it ({c.error})"
            )
        nodes = _sections_of(c.tree)
        for t in self.tables:
            key = sum(d[a] * m for a, m in zip(t.axes, t.mult, strict=True))
            if t.dense and t.known[key]:
                continue
            node = nodes.get(t.name) if t.name else c.tree
            t.fill(np.array([key]), [self.oracle.metrics(node)], (np.int64,) * 3 + (np.float64,))

    def chunks(self, chunk: int = CHUNK) -> Iterator[tuple[int, list[np.ndarray], int]]:
        for start in range(0, self.size, chunk):
            stop = min(start + chunk, self.size)
            yield start, self.digits(start, stop), stop - start


@dataclass
class Sweep:
    """What a sweep of the whole space found."""

    size: int
    valid: int = 0
    feasible: int = 0
    invalid_reasons: dict[str, int] = field(default_factory=dict)
    violations: dict[str, int] = field(default_factory=dict)  # bound label -> configurations
    front_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    front_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    seconds: float = 0.0


Bound = tuple[str, str, float, Callable[[dict[str, np.ndarray]], np.ndarray]]


def column(totals: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The metric ``name`` of every configuration, by its vector form, from the summed totals."""
    metric = METRICS.get(name)
    if metric is None or metric.vector is None:
        valid = ", ".join(n for n, m in METRICS.items() if m.vector is not None)
        raise ExactError(f"the exact mode has no metric {name!r}; valid: {valid}")
    return metric.vector(totals)


def sweep(model: Model, *, chunk: int = CHUNK) -> Sweep:
    """Every configuration: validity, budgets, and the exact constrained front."""
    space = model.space
    start = time.perf_counter()
    labels = bound_labels(space.budgets)
    bounds: list[tuple[str, str, float]] = []
    for b in space.budgets:
        if b.max is not None:
            bounds.append((b.metric, "max", b.max))
        if b.min is not None:
            bounds.append((b.metric, "min", b.min))
    signs = np.array([1.0 if o.direction == "minimize" else -1.0 for o in space.objectives])
    out = Sweep(model.size, violations=dict.fromkeys(labels, 0))
    f_idx = np.zeros(0, dtype=np.int64)
    f_pts = np.zeros((0, len(signs)))
    for first, digits, n in model.chunks(chunk):
        ok, vidx = model.valid(digits, n)
        _count_invalid(model, ok, vidx, out.invalid_reasons)
        where = np.flatnonzero(ok)
        out.valid += len(where)
        if not len(where):
            continue
        sub = [d[where] for d in digits]
        m = model.metrics(sub, len(where))
        feas = np.ones(len(where), dtype=bool)
        for label, (metric, kind, limit) in zip(labels, bounds, strict=True):
            col = column(m, metric)
            inside = (limit - col >= 0) if kind == "max" else (col - limit >= 0)
            out.violations[label] += int((~inside).sum())
            feas &= inside
        out.feasible += int(feas.sum())
        if not feas.any():
            continue
        pts = np.stack([column(m, o.name)[feas] for o in space.objectives], axis=1) * signs
        idx = (first + where[feas]).astype(np.int64)
        keep = front_mask(pts, idx)
        f_idx = np.concatenate((f_idx, idx[keep]))
        f_pts = np.concatenate((f_pts, pts[keep]))
        keep = front_mask(f_pts, f_idx)
        f_idx, f_pts = f_idx[keep], f_pts[keep]
    order = np.lexsort((f_idx, *f_pts.T[::-1]))
    out.front_index, out.front_points = f_idx[order], f_pts[order] * signs
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


def values_at(model: Model, index: int) -> dict[str, Scalar]:
    """The axis values of configuration ``index``."""
    d = tuple((index // s) % n for s, n in zip(model.strides, model.radix, strict=True))
    return model.oracle.values_of(d)
