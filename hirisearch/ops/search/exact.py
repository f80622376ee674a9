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
from hirisearch.ops.search.tables import Table
from hirisearch.ops.search.terms import Metrics, Terms
from hirisearch.ops.search.types import Scalar, SearchSpace, _split

#: A section whose axes span more combinations than this is split into its children.
SPLIT_OVER = 4096
#: Configurations per chunk (bounded memory: ~60 bytes per configuration and axis).
CHUNK = 1 << 18
#: Valid random configurations discovery moves axes at, and the values tried per axis.
PROBES, VALUES_PER_AXIS = 10, 8
#: Depth of the cost tree below which sections may be split (stage -> blocks -> block).
MAX_DEPTH = 4
#: The numbers of a section, in its table's column order.
COLUMNS = ("params", "macs", "acts", "latency_ms")
DTYPES = (np.int64, np.int64, np.int64, np.float64)

Sections = dict[str, tuple[CostNode, bool]]


def _sections_of(tree: CostNode, depth: int = MAX_DEPTH) -> Sections:
    """Every node down to ``depth`` by path, and each one's own remainder as ``path/`` (root:
    ``/``): the node and whether only its own work counts."""
    out: Sections = {"/": (tree, True)}
    for path, node in tree.walk(max_depth=depth):
        out[path] = (node, False)
        out[path + "/"] = (node, True)
    return out


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

    def __init__(self, space: SearchSpace, calibration: Any = None, *, seed: int = 0) -> None:
        for a in space.axes:
            if not a.finite:
                raise ExactError(f"axis {a.path} is continuous; the exact mode needs finite axes")
        self.space = space
        self.oracle = Oracle(space, calibration)
        self.radix = [len(a.values()) for a in space.axes]
        self.size = math.prod(self.radix)
        self.strides = [math.prod(self.radix[k + 1 :]) for k in range(len(self.radix))]
        self.with_latency = calibration is not None
        self.tabulated_s = 0.0
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
        met: list[tuple[int, ...]] = []  # valid configurations evaluated (they fill the tables)
        for x in bases + invalid[:PROBES]:
            cx = oracle(x)
            sx = self._signatures(cx) if cx.valid else {}
            if cx.valid:
                self._children(cx, children)
                met.append(x)
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
                        met.append(y)
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
        for d in met:
            self._fill_from(d)

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

    def _signatures(self, c: Candidate) -> dict[str, Metrics]:
        assert c.tree is not None
        return {p: self.oracle.metrics(s) for p, s in _sections_of(c.tree).items()}

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
        """params, macs, acts (int64) and latency_ms (float64) of ``n`` valid configurations."""
        total = [np.zeros(n, dtype=dt) for dt in DTYPES]
        idxs = [t.index(digits, n) for t in self.tables]
        for t, idx in zip(self.tables, idxs, strict=True):
            miss = t.missing(idx)
            for k in miss:  # one scalar evaluation fills every section of that configuration
                self._fill_from(self._digits_of(digits, int(k)))
            for acc, col in zip(total, t.gather(idx), strict=True):
                acc += col
        return dict(zip(COLUMNS, total, strict=True))

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
            if t.has(key):
                continue
            node = nodes.get(t.name) if t.name else (c.tree, False)
            t.fill(np.array([key]), [self.oracle.metrics(node)], DTYPES)

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
