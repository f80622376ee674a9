"""Exact counts of a space without enumerating it: how many configurations are valid, and how
many keep within a set of bounds, over the chain of sections of
:mod:`hirisearch.ops.search.sections`.

A state is an assignment of the axes later sections still read, a verdict per bound (inside
whatever follows, or not decided yet) and the partial sums the undecided bounds read; states that
are equal are one state with a count, and a state that no completion brings inside a bound is
dropped. Counts are exact integers; where too many distinct partial sums straddle a budget,
counting gives up (None) rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from hirisearch.ops.search.sections import (
    Factor,
    combine,
    live_after,
    rest_bounds,
    start_sums,
)

#: States a step may hold, and rows it may expand them to, before counting gives up (memory:
#: about 100 bytes a row).
COUNT_MAX, EXPAND_MAX = 1 << 17, 1 << 20
#: Verdicts of a bound on a partial sum.
OUT, OPEN, IN = -1, 0, 1

Judge = Callable[[np.ndarray, np.ndarray], np.ndarray]


def count_inside(
    factors: list[Factor],
    radix: list[int],
    how: tuple[str, ...],
    judge: Judge,
    reads: Sequence[tuple[int, ...]],
) -> int | None:
    """The number of valid configurations inside every bound.

    Args:
        how: per quantity, ``sum`` or ``max``.
        judge: of the lowest and highest complete totals partial sums may reach, per bound
            ``OUT`` (never inside), ``IN`` (always inside) or ``OPEN``, as an int8 array.
        reads: per bound, the quantities it reads.
    """
    if math.prod(radix) >= 1 << 62:
        return None
    lo_rest, hi_rest = rest_bounds(factors, how)
    live = live_after(factors)
    n_bounds = len(reads)
    digits: dict[int, np.ndarray] = {}
    status = np.zeros((1, n_bounds), dtype=np.int8)
    sums = start_sums(how)
    count = np.ones(1, dtype=np.int64)
    seen: set[int] = set()
    for i, f in enumerate(factors):
        new = [a for a in f.axes if a not in seen]
        seen |= set(new)
        combos = math.prod(radix[a] for a in new)
        if len(count) * combos > EXPAND_MAX:
            return None
        if combos > 1:
            rep = np.repeat(np.arange(len(count)), combos)
            digits = {a: d[rep] for a, d in digits.items()}
            status, sums, count = status[rep], sums[rep], count[rep]
            c = np.tile(np.arange(combos, dtype=np.int64), len(rep) // combos)
            for a in reversed(new):
                digits[a] = c % radix[a]
                c //= radix[a]
        else:
            digits.update({a: np.zeros(len(count), dtype=np.int64) for a in new})
        key = np.zeros(len(count), dtype=np.int64)
        for a, m in zip(f.axes, f.mult, strict=True):
            key += digits[a] * m
        keep = f.ok[key]
        if f.values is not None:
            sums = combine(sums, f.values[key], how)
        verdict = judge(combine(sums, lo_rest[i + 1], how), combine(sums, hi_rest[i + 1], how))
        status = np.where(status == IN, IN, verdict).astype(np.int8)
        keep &= (status != OUT).all(axis=1)
        digits = {a: d[keep] for a, d in digits.items() if a in live[i]}
        status, sums, count = status[keep], sums[keep], count[keep]
        sums = _forget(sums, status, reads)
        digits, status, sums, count = _merge(digits, status, sums, count)
        if len(count) > COUNT_MAX:
            return None
    free = math.prod(radix[a] for a in range(len(radix)) if a not in seen)
    return int(count.sum()) * free


def _forget(sums: np.ndarray, status: np.ndarray, reads: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Partial sums no open bound reads are set to 0 (so that equal states merge)."""
    needed = np.zeros(sums.shape, dtype=bool)
    for b, qs in enumerate(reads):
        for q in qs:
            needed[:, q] |= status[:, b] == OPEN
    return np.where(needed, sums, 0)


def _merge(
    digits: dict[int, np.ndarray], status: np.ndarray, sums: np.ndarray, count: np.ndarray
) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Equal states as one, their counts added."""
    if len(count) <= 1:
        return digits, status, sums, count
    axes = sorted(digits)
    cols = [digits[a] for a in axes] + list(status.T) + list(sums.T)
    order = np.lexsort(cols[::-1])
    cols = [c[order] for c in cols]
    first = np.ones(len(count), dtype=bool)
    first[1:] = np.any([c[1:] != c[:-1] for c in cols], axis=0) if cols else False
    starts = np.flatnonzero(first)
    total = np.add.reduceat(count[order], starts)
    digits = {a: digits[a][order][starts] for a in axes}
    return digits, status[order][starts], sums[order][starts], total
