"""The exact Pareto front of a set of points (every objective turned into "smaller is better"):
one for short Python lists (trial searches) and one for NumPy arrays of millions of points (the
exact mode, which merges the fronts of chunks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (all minimised)."""
    better = False
    for x, y in zip(a, b, strict=True):
        if x > y:
            return False
        if x < y:
            better = True
    return better


def pareto_indices(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated points (duplicates of a front point: the first is kept).

    Points are visited in lexicographic order, so a point can only be dominated by one visited
    before it; each is compared with the current front only.
    """
    order = sorted(range(len(points)), key=lambda i: tuple(points[i]))
    front: list[int] = []
    seen: set[tuple[float, ...]] = set()
    for i in order:
        p = tuple(points[i])
        if p in seen:
            continue
        if any(dominates(points[j], p) for j in front):
            continue
        front.append(i)
        seen.add(p)
    return sorted(front)


def to_minimise(values: Sequence[float], directions: Sequence[str]) -> tuple[float, ...]:
    return tuple(v if d == "minimize" else -v for v, d in zip(values, directions, strict=True))


#: Points compared with each other at once by :func:`front_mask` (memory: BLOCK**2 booleans).
BLOCK = 512


def front_mask(points: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` (n x m, minimised) are non-dominated; of identical rows only the one
    with the smallest ``keys`` entry is kept (``keys``: distinct integers, e.g. configuration
    indices), so the result does not depend on the order of the rows.
    """
    n, m = points.shape
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    # lexicographic order by the objectives, then by key: a row can only be dominated by (or a
    # duplicate of) a row before it
    order = np.lexsort((keys, *points.T[::-1]))
    p = points[order]
    if m == 1:
        keep[order[0]] = True
        return keep
    if m == 2:
        prev_min = np.minimum.accumulate(np.concatenate(([np.inf], p[:-1, 1])))
        keep[order[p[:, 1] < prev_min]] = True
        return keep
    front: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    for start in range(0, n, BLOCK):
        block = p[start : start + BLOCK]
        alive = np.ones(len(block), dtype=bool)
        for f in front:  # dominated by (or equal to) an earlier front point
            alive &= ~(f[:, None, :] <= block[None, :, :]).all(axis=2).any(axis=0)
        idx = np.flatnonzero(alive)
        b = block[idx]
        # within the block: a row can only be beaten by an earlier row
        le = (b[:, None, :] <= b[None, :, :]).all(axis=2)
        le &= np.tri(len(b), k=-1, dtype=bool).T
        survivors = idx[~le.any(axis=0)]
        if len(survivors):
            front.append(block[survivors])
            kept.append(start + survivors)
    if kept:
        keep[order[np.concatenate(kept)]] = True
    return keep
