"""The exact Pareto front of a set of points (every objective turned into "smaller is better")."""

from __future__ import annotations

from collections.abc import Sequence


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
