"""The section-wise exact front: dynamic programming over the chain of sections with Pareto
pruning of partial sums (a multi-objective knapsack), exact without enumerating the space.

Every analytic metric is an increasing function of a few *quantities* (params, MACs, activations,
predicted latency) that are sums over the sections of the cost tree; each section depends on a
few axes (:class:`hirisearch.ops.search.exact.Model`). Sections are added one at a time, in a
chain. A *partial sum* is the sum of the sections added so far, for one assignment of the axes
seen so far; partial sums are grouped by the values of the axes that later sections (or validity
groups) still read. Within a group two partial sums have the same completions, so:

- a partial sum that no completion can bring inside a budget is dropped (budgets bound sums of
  numbers whose smallest remaining total is known);
- a partial sum ``b`` is dropped when another ``a`` of its group is no worse in every
  coordinate (each quantity an objective or budget reads, oriented so that smaller is better)
  and either strictly better in an objective that is a sum, or equal there with a smaller
  configuration index. Then for every completion ``c``, ``a + c`` is feasible if ``b + c`` is,
  and it dominates ``b + c`` or ties with it and wins the tie (enumeration keeps the smallest
  index among identical points): ``b + c`` is never on the front. Sums are exact (integers, and
  latency in fixed point, :data:`hirisearch.ops.search.terms.LATENCY_QUANTUM`), and the
  metrics are increasing functions of the sums, strictly for the objectives, so strictness
  survives the completion.

A quantity that is a maximum over sections, not a sum, is carried the same way as one more
coordinate (the running maximum): it never decides a tie, since ``max(a, c)`` may equal
``max(b, c)``. The complete partial sums left are judged by the same functions as enumeration's
(:mod:`hirisearch.ops.search.fronts`), so both methods return the same configurations with the
same numbers (``tests/search/test_sections.py``).

Configurations are counted the same way, by distinct partial sums per group (:mod:`.counting`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hirisearch.errors import ExactError
from hirisearch.ops.search.dominance import undominated

#: Expanded partial sums handled at once (memory: about 100 bytes each).
EXPAND_MAX = 1 << 21
#: Partial sums a step may keep before the method gives up (memory bound, about 2 GB in all).
KEEP_MAX = 1 << 23


@dataclass(frozen=True)
class Factor:
    """One link of the chain: a section's numbers (or a validity group's verdict) over the
    combinations of its axes; a combination's index is the sum of its digits times ``mult``."""

    name: str
    axes: tuple[int, ...]
    mult: tuple[int, ...]
    values: np.ndarray | None  # (combinations, quantities) int64; None: validity only
    ok: np.ndarray  # (combinations,) bool: combinations a valid configuration may take


@dataclass(frozen=True)
class Problem:
    """What the chain is searched for.

    Attributes:
        combine: per quantity, ``sum`` or ``max``.
        coords: the dominance coordinates as (quantity, +1 or -1: smaller or larger is better);
            a quantity read in both directions has both.
        tied: how many leading ``coords`` decide ties (objectives that are sums), in order.
        keep: of lower and upper bounds of the complete totals of partial sums (arrays of
            quantities), which some completion may still bring inside the budgets.
    """

    combine: tuple[str, ...]
    coords: tuple[tuple[int, int], ...]
    tied: int
    keep: Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Chain:
    """The complete partial sums left, and what the steps kept."""

    index: np.ndarray
    sums: np.ndarray
    steps: int = 0
    partial_fronts: int = 0
    partial_sums: int = 0
    largest_step: int = 0
    seconds: float = 0.0


def live_after(factors: list[Factor]) -> list[tuple[int, ...]]:
    """Per step, the axes seen so far that a later factor still reads (the group's axes)."""
    seen: set[int] = set()
    out = []
    for i, f in enumerate(factors):
        seen |= set(f.axes)
        later = {a for g in factors[i + 1 :] for a in g.axes}
        out.append(tuple(sorted(seen & later)))
    return out


def rest_bounds(factors: list[Factor], combine_how: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Per step, the smallest and largest total the factors from it on can add (or reach, for a
    maximum)."""
    lo = np.repeat(start_sums(combine_how), len(factors) + 1, axis=0)
    hi = lo.copy()
    for i in range(len(factors) - 1, -1, -1):
        f = factors[i]
        lo[i], hi[i] = lo[i + 1], hi[i + 1]
        if f.values is None or not f.ok.any():
            continue
        v = f.values[f.ok]
        lo[i] = combine(lo[i + 1 : i + 2], v.min(axis=0), combine_how)[0]
        hi[i] = combine(hi[i + 1 : i + 2], v.max(axis=0), combine_how)[0]
    return lo, hi


def front_by_sections(factors: list[Factor], radix: list[int], problem: Problem) -> Chain:
    """Run the chain (see the module docstring); the complete partial sums that may be on the
    front are returned, with their configuration indices (axes no factor reads at digit 0)."""
    start = time.perf_counter()
    strides = [math.prod(radix[k + 1 :]) for k in range(len(radix))]
    lo_rest, hi_rest = rest_bounds(factors, problem.combine)
    live = live_after(factors)
    index = np.zeros(1, dtype=np.int64)
    sums = start_sums(problem.combine)
    out = Chain(index, sums)
    seen: set[int] = set()
    for i, f in enumerate(factors):
        new = [a for a in f.axes if a not in seen]
        seen |= set(new)
        parts = [(index[:0], sums[:0])]
        per = max(1, EXPAND_MAX // max(1, math.prod(radix[a] for a in new)))
        for lo in range(0, len(index), per):
            part = _step(index[lo : lo + per], sums[lo : lo + per], f, new, radix, strides,
                         problem, lo_rest[i + 1], hi_rest[i + 1])  # fmt: skip
            parts.append(part)
        index = np.concatenate([p[0] for p in parts])
        sums = np.concatenate([p[1] for p in parts])
        changed = f.values is not None or live[i] != (live[i - 1] if i else ())
        if len(parts) > 1 or changed:
            index, sums, groups = _prune(index, sums, live[i], radix, strides, problem)
        else:
            groups = _n_groups(index, live[i], radix, strides)
        out.steps += 1
        out.partial_fronts += groups
        out.partial_sums += len(index)
        out.largest_step = max(out.largest_step, len(index))
        if len(index) > KEEP_MAX:
            raise ExactError(
                f"the section-wise front kept {len(index):,} partial sums after {f.name or 'the'} "
                f"section (more than {KEEP_MAX:,}); use `exact: {{method: enumerate}}` or fewer "
                "objectives"
            )
    out.index, out.sums = index, sums
    out.seconds = time.perf_counter() - start
    return out


def _step(
    index: np.ndarray,
    sums: np.ndarray,
    f: Factor,
    new: list[int],
    radix: list[int],
    strides: list[int],
    problem: Problem,
    lo_rest: np.ndarray,
    hi_rest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Add factor ``f`` to some partial sums: every value of its new axes, its numbers, the
    partial sums dropped by validity and by the budgets."""
    combos = math.prod(radix[a] for a in new)
    if combos > 1:
        rep = np.repeat(np.arange(len(index)), combos)
        index, sums = index[rep], sums[rep]
        c = np.tile(np.arange(combos, dtype=np.int64), len(rep) // combos)
        for a in reversed(new):
            index = index + (c % radix[a]) * strides[a]
            c //= radix[a]
    key = np.zeros(len(index), dtype=np.int64)
    for a, m in zip(f.axes, f.mult, strict=True):
        key += (index // strides[a]) % radix[a] * m
    keep = f.ok[key]
    if f.values is not None:
        sums = combine(sums, f.values[key], problem.combine)
    low = combine(sums, lo_rest, problem.combine)
    high = combine(sums, hi_rest, problem.combine)
    keep &= problem.keep(low, high)
    return index[keep], sums[keep]


def start_sums(how: tuple[str, ...]) -> np.ndarray:
    """The partial sums before any section: 0 for a sum, for a maximum a number below any
    section's (and whose negative is one too)."""
    low = -(1 << 62)
    return np.array([[low if c == "max" else 0 for c in how]], dtype=np.int64)


def combine(sums: np.ndarray, add: np.ndarray, how: tuple[str, ...]) -> np.ndarray:
    """``sums`` with ``add`` added (a sum) or taken into the maximum (a maximum), per column."""
    out = sums + add
    for q, c in enumerate(how):
        if c == "max":
            out[:, q] = np.maximum(sums[:, q], np.broadcast_to(add, sums.shape)[:, q])
    return out


def _group_key(
    index: np.ndarray, axes: tuple[int, ...], radix: list[int], strides: list[int]
) -> np.ndarray:
    key = np.zeros(len(index), dtype=np.int64)
    m = 1
    for a in reversed(axes):
        key += (index // strides[a]) % radix[a] * m
        m *= radix[a]
    return key


def _n_groups(
    index: np.ndarray, axes: tuple[int, ...], radix: list[int], strides: list[int]
) -> int:
    return len(np.unique(_group_key(index, axes, radix, strides))) if len(index) else 0


def _prune(
    index: np.ndarray,
    sums: np.ndarray,
    axes: tuple[int, ...],
    radix: list[int],
    strides: list[int],
    problem: Problem,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The partial sums of each group that no other of the group beats (module docstring)."""
    if not len(index):
        return index, sums, 0
    key = _group_key(index, axes, radix, strides)
    coords = np.stack([sums[:, q] * s for q, s in problem.coords], axis=1) if problem.coords \
        else np.zeros((len(index), 0), dtype=np.int64)  # fmt: skip
    tied = coords[:, : problem.tied]
    order = np.lexsort((index, *tied.T[::-1], key))
    key, coords, index, sums = key[order], coords[order], index[order], sums[order]
    keep = undominated(key, coords, problem.tied)
    groups = int(np.count_nonzero(np.r_[True, key[1:] != key[:-1]]))
    return index[keep], sums[keep], groups
