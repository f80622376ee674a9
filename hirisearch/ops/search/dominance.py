"""Grouped dominance: which rows no earlier row of the same group dominates.

The section-wise front (:mod:`hirisearch.ops.search.sections`) keeps, per value of the axes
shared with later sections (a *group*), the partial sums no other partial sum of the group
dominates. Rows come sorted by group, then by the coordinates that decide ties (the objectives
that are sums), then by configuration index; a row is dropped when an earlier row of its group is
no worse in every coordinate. That earlier row then wins in the full front whatever sections
follow (see the proof in the sections module), so nothing the front needs is dropped.
"""

from __future__ import annotations

import numpy as np

#: Rows compared with each other at once (memory: BLOCK * candidates booleans per coordinate).
BLOCK = 256


def _ranks(values: np.ndarray) -> np.ndarray:
    """Dense ranks (0, 1, ...) of ``values``: the same order, exact integer comparisons."""
    return np.unique(values, return_inverse=True)[1].astype(np.int64)


def _grouped_prefix_min(group: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the smallest rank of ``values`` among the earlier rows of its group
    (``group`` sorted; a group's first row gets a rank above every other), and each row's own
    rank."""
    r = _ranks(values)
    top = int(r.max()) + 1 if len(r) else 1
    gid = _ranks(group)
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    # later groups sit lower, so a running minimum never reaches back into an earlier group
    shifted = r + (n_groups - 1 - gid) * (top + 1)
    before = np.concatenate(([np.iinfo(np.int64).max], np.minimum.accumulate(shifted)[:-1]))
    first = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, dtype=bool)
    before[first] = np.iinfo(np.int64).max
    return np.where(first, np.iinfo(np.int64).max, before - (n_groups - 1 - gid) * (top + 1)), r


def undominated(group: np.ndarray, coords: np.ndarray, sorted_by: int) -> np.ndarray:
    """Which rows survive (rows sorted by ``group``, then by the first ``sorted_by`` columns of
    ``coords``, then by a tie-break): those no earlier row of their group is <= in every column.
    """
    n, m = coords.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    first = np.r_[True, group[1:] != group[:-1]]
    if m == 0 or (m == 1 and sorted_by >= 1):
        return first
    if m == 1 or (m == 2 and sorted_by >= 1):
        col = coords[:, m - 1]
        before, r = _grouped_prefix_min(group, col)
        return r < before
    return _blocks(group, coords)


def _blocks(group: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """The general case: each block of rows against the surviving earlier rows of its groups."""
    n = len(group)
    keep = np.zeros(n, dtype=bool)
    starts = np.searchsorted(group, group, side="left")  # first row of each row's group
    kept_rows: list[np.ndarray] = []
    kept_all = np.zeros(0, dtype=np.int64)
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        g, c = group[lo:hi], coords[lo:hi]
        alive = np.ones(hi - lo, dtype=bool)
        if len(kept_all):
            cand = kept_all[np.searchsorted(kept_all, starts[lo]) :]
            if len(cand):
                le = (coords[cand][:, None, :] <= c[None, :, :]).all(axis=2)
                le &= group[cand][:, None] == g[None, :]
                alive &= ~le.any(axis=0)
        idx = np.flatnonzero(alive)
        if len(idx) > 1:
            b = c[idx]
            le = (b[:, None, :] <= b[None, :, :]).all(axis=2)
            le &= g[idx][:, None] == g[idx][None, :]
            le &= np.tri(len(idx), k=-1, dtype=bool).T
            idx = idx[~le.any(axis=0)]
        if len(idx):
            kept_rows.append(lo + idx)
            kept_all = np.concatenate((kept_all, lo + idx))
    if kept_rows:
        keep[np.concatenate(kept_rows)] = True
    return keep
