"""Lazily filled lookup tables over the combinations of a few axes (the exact mode's sections
and validity groups), dense arrays or, above :data:`DENSE_MAX` entries, sorted keys."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Tables above this many entries are sparse (sorted keys) instead of dense arrays.
DENSE_MAX = 1 << 22


class Table:
    """One section's metrics (or one validity group's verdict) over its axes' combinations."""

    def __init__(self, name: str, axes: tuple[int, ...], radix: list[int]) -> None:
        self.name = name
        self.axes = axes
        self.size = math.prod(radix[a] for a in axes)
        self.mult = []
        m = 1
        for a in reversed(axes):
            self.mult.append(m)
            m *= radix[a]
        self.mult.reverse()
        self.radix = tuple(radix[a] for a in axes)
        self.dense = self.size <= DENSE_MAX
        self.known = np.zeros(self.size if self.dense else 0, dtype=bool)
        self.keys = np.zeros(0, dtype=np.int64)  # sparse tables: sorted keys
        self.cols: list[np.ndarray] = []

    def index(self, digits: list[np.ndarray], n: int) -> np.ndarray:
        idx = np.zeros(n, dtype=np.int64)
        for a, m in zip(self.axes, self.mult, strict=True):
            idx += digits[a] * m
        return idx

    def key_of(self, digits: list[int] | tuple[int, ...]) -> int:
        """The combination index of one configuration's digits (all axes)."""
        return sum(digits[a] * m for a, m in zip(self.axes, self.mult, strict=True))

    def unravel(self, key: int) -> tuple[int, ...]:
        """The digits of this table's axes at combination ``key``."""
        return tuple((key // m) % r for m, r in zip(self.mult, self.radix, strict=True))

    def digit(self, k: int) -> np.ndarray:
        """The digit of the table's ``k``-th axis at every combination (dense tables)."""
        return (np.arange(self.size, dtype=np.int64) // self.mult[k]) % self.radix[k]

    def has(self, key: int) -> bool:
        """Whether combination ``key`` is filled."""
        if self.dense:
            return bool(self.known[key])
        pos = int(np.searchsorted(self.keys, key))
        return pos < len(self.keys) and int(self.keys[pos]) == key

    def missing(self, idx: np.ndarray) -> np.ndarray:
        """Positions (into ``idx``) of the first occurrence of each combination not yet known."""
        if self.dense:
            pos = np.flatnonzero(~self.known[idx])
        else:
            found = np.searchsorted(self.keys, idx)
            found = np.minimum(found, max(len(self.keys) - 1, 0))
            pos = np.flatnonzero(self.keys[found] != idx) if len(self.keys) else np.arange(len(idx))
        _, first = np.unique(idx[pos], return_index=True)
        return pos[first]

    def fill(self, keys: np.ndarray, rows: list[tuple[Any, ...]], dtypes: tuple[Any, ...]) -> None:
        if not len(keys):
            return
        new = [np.array([r[k] for r in rows], dtype=dt) for k, dt in enumerate(dtypes)]
        if self.dense:
            if not self.cols:
                self.cols = [np.zeros(self.size, dtype=dt) for dt in dtypes]
            for col, vals in zip(self.cols, new, strict=True):
                col[keys] = vals
            self.known[keys] = True
            return
        if not self.cols:
            self.cols = [np.zeros(0, dtype=dt) for dt in dtypes]
        allk = np.concatenate((self.keys, keys))
        order = np.argsort(allk, kind="stable")
        self.keys = allk[order]
        self.cols = [np.concatenate((c, v))[order] for c, v in zip(self.cols, new, strict=True)]

    def gather(self, idx: np.ndarray) -> list[np.ndarray]:
        if self.dense:
            return [c[idx] for c in self.cols]
        pos = np.searchsorted(self.keys, idx)
        return [c[pos] for c in self.cols]
