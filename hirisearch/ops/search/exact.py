"""Exact mode's model of a space: its sections, their axes, and their numbers as tables.

The analytic cost of a model is a sum over the sections of its cost tree (stem, each stage or
block, head, ...), and the predicted latency is a sum of per-operator terms over the same tree
(:mod:`hirisearch.ops.search.terms`), so both are sums over sections too. Each section depends on
a few axes only (stage 3 on its depth, width and FFN ratio and the width of stage 2, say). So:

1. **Discovery.** At random valid configurations every axis is moved through its values; the
   sections whose numbers change depend on that axis, and the axes that change validity are the
   validity axes, grouped where they interact (``dims`` with ``num_heads``). A section whose axes
   span too many combinations is split into its children (and its own remainder, ``path/``)
   where its children are the same in every configuration.
2. **Tables.** Each section's params, MACs, activations and predicted latency are tabulated over
   the combinations of its axes by the scalar plan and cost (one source of truth: no second
   formula), and validity per group, at a valid configuration (the *witness*) with the group's
   axes set. Enumeration fills them lazily, from the configurations it meets
   (:mod:`hirisearch.ops.search.enumeration`); the section-wise front fills them whole first
   (:meth:`Model.tabulate`, :mod:`hirisearch.ops.search.sections`).

Configurations are mixed-radix indices (the last axis fastest, as ``itertools.product``).
``tests/search/test_exact.py`` checks the tables' totals against the scalar model on random
configurations of every shipped space, and the two fronts against each other.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from hirisearch.cost.types import CostNode
from hirisearch.errors import ExactError
from hirisearch.ops.search.candidate import Candidate, evaluate
from hirisearch.ops.search.metrics import (
    TRAIN_METRICS,
    TRAIN_TOTALS,
    confidence_of,
    train_totals,
    upper_factor,
)
from hirisearch.ops.search.tables import Table
from hirisearch.ops.search.terms import Metrics, Terms
from hirisearch.ops.search.types import Scalar, SearchSpace, _split

#: A section whose axes span more combinations than this is split into its children.
SPLIT_OVER = 512
#: Configurations per chunk (bounded memory: ~60 bytes per configuration and axis).
CHUNK = 1 << 18
#: Valid random configurations discovery moves axes at, and the values tried per axis.
PROBES, VALUES_PER_AXIS = 6, 8
#: Depth of the cost tree below which sections may be split (stage -> blocks -> block).
MAX_DEPTH = 4
#: The numbers of a section, in its table's column order.
COLUMNS = ("params", "macs", "acts", "latency_ms")
DTYPES = (np.int64, np.int64, np.int64, np.float64)


def section(tree: CostNode, path: str) -> tuple[CostNode, bool] | None:
    """The section at ``path`` of ``tree``: the node and whether only its own work counts
    (``stages.3/``: stage 3 less its children; ``/``: the root's own; ``""``: the whole tree);
    None where the configuration has no such node (its numbers are zero)."""
    own = path.endswith("/")
    path = path[:-1] if own else path
    try:
        return (tree.child(path) if path else tree), own
    except KeyError:
        return None


class Oracle:
    """Scalar evaluations of configurations given as digit tuples (cached)."""

    def __init__(self, space: SearchSpace, calibration: Any = None) -> None:
        self.space = space
        self.paths = tuple(a.path for a in space.axes)
        self.values = [a.values() for a in space.axes]
        self.calibration = calibration
        self.terms = Terms(calibration, space.base.get("family"))
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

    def metrics(self, section: tuple[CostNode, bool] | None) -> Metrics:
        """params, MACs, activations, predicted latency (ms, quantized; 0 without a
        calibration) of a section (None: absent, all zero)."""
        return (0, 0, 0, 0.0) if section is None else self.terms.of(*section)


@dataclass(frozen=True)
class Section:
    path: str
    axes: tuple[str, ...]
    combinations: int


def _random_digits(rng: random.Random, radix: list[int]) -> tuple[int, ...]:
    return tuple(rng.randrange(n) for n in radix)


def _tried(n: int) -> list[int]:
    if n <= VALUES_PER_AXIS:
        return list(range(n))
    return sorted({round(k * (n - 1) / (VALUES_PER_AXIS - 1)) for k in range(VALUES_PER_AXIS)})


class Model:
    """The tabulated model of one space: sections, validity groups and their tables."""

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
        #: The upper end of the latency interval as a factor of the prediction (one per space:
        #: its family, its calibration, its confidence), the vector form of latency_upper_ms.
        self.upper_factor = upper_factor(
            calibration, space.base.get("family"), confidence_of(space)
        )
        self.tabulated_s = 0.0
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
        validity_axes: set[int] = set()
        # valid configurations one axis apart, and every valid configuration met
        self._pairs: list[tuple[tuple[int, ...], tuple[int, ...], int]] = []
        self._met: list[tuple[int, ...]] = []
        for x in bases + invalid[:PROBES]:
            cx = oracle(x)
            if cx.valid:
                self._met.append(x)
            for a in range(n_axes):
                for v in _tried(self.radix[a]):
                    if v == x[a]:
                        continue
                    y = (*x[:a], v, *x[a + 1 :])
                    cy = oracle(y)
                    if cy.valid != cx.valid:
                        validity_axes.add(a)
                    if cx.valid and cy.valid:
                        self._pairs.append((x, y, a))
                        self._met.append(y)
        self.validity_axes = tuple(sorted(validity_axes))
        groups = self._validity_groups(bases, validity_axes)
        self.validity = [Table("valid:" + ",".join(map(str, g)), g, self.radix) for g in groups]
        self.errors: dict[str, dict[int, str]] = {t.name: {} for t in self.validity}
        self._seen: dict[tuple[tuple[int, ...], str], Metrics] = {}
        self._deps: dict[str, set[int]] = {}
        if bases:
            self.sections = self._cut("")
        else:  # nothing valid found: every configuration is checked by the scalar model
            self.sections, self._deps[""] = [""], set(range(n_axes))
        self.tables = [Table(p, tuple(sorted(self._deps_of(p))), self.radix) for p in self.sections]
        for d in self._met:
            self._fill_from(d)
        del self._seen, self._pairs, self._met

    def _deps_of(self, path: str) -> set[int]:
        """The axes that change the section at ``path``: moved alone, at some probe."""
        hit = self._deps.get(path)
        if hit is None:
            hit = {a for x, y, a in self._pairs if self._at(x, path) != self._at(y, path)}
            self._deps[path] = hit
        return hit

    def _at(self, d: tuple[int, ...], path: str) -> Metrics:
        key = (d, path)
        hit = self._seen.get(key)
        if hit is None:
            tree = self.oracle(d).tree
            hit = self.oracle.metrics(None if tree is None else section(tree, path))
            self._seen[key] = hit
        return hit

    def _names(self, path: str) -> set[tuple[str, ...]]:
        """The names of the children at ``path`` in every valid configuration met."""
        out = set()
        for d in self._met:
            tree = self.oracle(d).tree
            found = None if tree is None else section(tree, path)
            out.add(tuple(n for n, _ in found[0].children) if found else ())
        return out

    def _base_digits(self) -> tuple[int, ...] | None:
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

    def _cut(self, path: str) -> list[str]:
        """The sections at and below ``path``: the node whole, or split into its own remainder
        (``path/``) and its children where its axes span more than :data:`SPLIT_OVER`
        combinations and its children are the same in every configuration met."""
        size = math.prod(self.radix[a] for a in self._deps_of(path))
        names = self._names(path)
        stable = len(names) == 1 and next(iter(names))
        depth = path.count(".") + 1 if path else 0
        if (path and size <= SPLIT_OVER) or not stable or depth >= MAX_DEPTH:
            return [path]
        out = [path + "/"]
        for name in next(iter(names)):
            out += self._cut(f"{path}.{name}" if path else name)
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

    # -- tables
    def digits(self, start: int, stop: int) -> list[np.ndarray]:
        i = np.arange(start, stop, dtype=np.int64)
        return [(i // s) % n for s, n in zip(self.strides, self.radix, strict=True)]

    def _digits_of(self, digits: list[np.ndarray], k: int) -> tuple[int, ...]:
        return tuple(int(d[k]) for d in digits)

    def _fill_validity(self, t: Table, keys: np.ndarray, base: list[tuple[int, ...]]) -> None:
        """Validity of the group ``t`` at ``keys``: ``base[k]`` with the group's axes set."""
        rows = []
        for key, b in zip(keys.tolist(), base, strict=True):
            d = list(self.witness or b)
            for a, v in zip(t.axes, t.unravel(key), strict=True):
                d[a] = v
            c = self.oracle(tuple(d))
            rows.append((c.valid,))
            if not c.valid:
                self.errors[t.name][key] = c.error or "invalid"
        t.fill(keys, rows, (bool,))

    def valid(self, digits: list[np.ndarray], n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """The validity mask, and per validity group its combination index (for the reasons)."""
        ok = np.ones(n, dtype=bool)
        idxs = []
        for t in self.validity:
            idx = t.index(digits, n)
            miss = t.missing(idx)
            if len(miss):
                base = [self._digits_of(digits, int(k)) for k in miss]
                self._fill_validity(t, idx[miss], base)
            ok &= t.gather(idx)[0]
            idxs.append(idx)
        return ok, idxs

    def metrics(self, digits: list[np.ndarray], n: int) -> dict[str, np.ndarray]:
        """params, macs, acts (int64) and latency_ms (float64) of ``n`` valid configurations,
        with the space's ``latency_upper_factor``."""
        total = [np.zeros(n, dtype=dt) for dt in DTYPES]
        idxs = [t.index(digits, n) for t in self.tables]
        for t, idx in zip(self.tables, idxs, strict=True):
            miss = t.missing(idx)
            for k in miss:  # one scalar evaluation fills every section of that configuration
                self._fill_from(self._digits_of(digits, int(k)))
            for acc, col in zip(total, t.gather(idx), strict=True):
                acc += col
        out: dict[str, Any] = dict(zip(COLUMNS, total, strict=True))
        out["latency_upper_factor"] = self.upper_factor
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
        for t in self.tables:
            key = sum(d[a] * m for a, m in zip(t.axes, t.mult, strict=True))
            if t.has(key):
                continue
            t.fill(np.array([key]), [self.oracle.metrics(section(c.tree, t.name))], DTYPES)

    def chunks(self, chunk: int = CHUNK) -> Iterator[tuple[int, list[np.ndarray], int]]:
        for start in range(0, self.size, chunk):
            stop = min(start + chunk, self.size)
            yield start, self.digits(start, stop), stop - start

    # -- whole tables (the section-wise front)
    def tabulate(self) -> dict[str, np.ndarray]:
        """Fill every table whole: each validity group at every combination, and each section
        at every combination some valid configuration has. Returns, per section, which of its
        combinations a valid configuration has (the others are never met).

        Raises:
            ExactError: a table too large to fill whole (enumerate such a space).
        """
        start = time.perf_counter()
        for t in (*self.validity, *self.tables):
            if not t.dense:
                raise ExactError(
                    f"{t.name or 'the model'} has {t.size:,} combinations of its axes, too many "
                    "to tabulate; use `exact: {method: enumerate}`"
                )
        for t in self.validity:
            keys = np.flatnonzero(~t.known)
            self._fill_validity(t, keys, [self.witness or ()] * len(keys))
        reach = {t.name: np.ones(t.size, dtype=bool) for t in self.tables}
        for t in sorted(self.tables, key=lambda t: -t.size):
            for key in np.flatnonzero(~t.known).tolist():
                if t.known[key]:  # filled meanwhile, by another table's configuration
                    continue
                d = self._completion(t, key)
                if d is None:
                    reach[t.name][key] = False
                    t.known[key] = True  # never met: its numbers are never read
                else:
                    self._fill_from(d)
        self.tabulated_s = time.perf_counter() - start
        return reach

    def _completion(self, t: Table, key: int) -> tuple[int, ...] | None:
        """A valid configuration with the section's axes at combination ``key``: the witness,
        each validity group moved to its first valid combination that keeps those axes; None if
        a group has none (no valid configuration has that combination)."""
        if self.witness is None:
            return None
        d = list(self.witness)
        fixed = dict(zip(t.axes, t.unravel(key), strict=True))
        for a, v in fixed.items():
            d[a] = v
        for g in self.validity:
            ok = g.cols[0].copy()
            for k, a in enumerate(g.axes):
                if a in fixed:
                    ok &= g.digit(k) == fixed[a]
            if ok[g.key_of(d)]:
                continue
            hits = np.flatnonzero(ok)
            if not len(hits):
                return None
            for a, v in zip(g.axes, g.unravel(int(hits[0])), strict=True):
                d[a] = v
        return tuple(d)


def values_at(model: Model, index: int) -> dict[str, Scalar]:
    """The axis values of configuration ``index``."""
    d = tuple((index // s) % n for s, n in zip(model.strides, model.radix, strict=True))
    return model.oracle.values_of(d)
