"""Summary statistics of repeated timings (torch.utils.benchmark style: median and IQR)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: IQR / median above this marks a measurement as noisy.
NOISY_IQR_RATIO = 0.10


def quantile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile by linear interpolation between order statistics (numpy's default)."""
    if not samples:
        raise ValueError("quantile of no samples")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"`0 <= q <= 1` must hold, but got q={q}")
    xs = sorted(samples)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Summary:
    """Statistics of ``runs`` timings, in milliseconds."""

    median_ms: float
    iqr_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    runs: int

    @property
    def iqr_ratio(self) -> float:
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else 0.0

    @property
    def noisy(self) -> bool:
        return self.iqr_ratio > NOISY_IQR_RATIO


def summarize(samples_ms: Sequence[float]) -> Summary:
    """Median, interquartile range, 90th percentile, mean and minimum of the samples."""
    if not samples_ms:
        raise ValueError("no timing samples")
    return Summary(
        median_ms=quantile(samples_ms, 0.5),
        iqr_ms=quantile(samples_ms, 0.75) - quantile(samples_ms, 0.25),
        p90_ms=quantile(samples_ms, 0.9),
        mean_ms=sum(samples_ms) / len(samples_ms),
        min_ms=min(samples_ms),
        runs=len(samples_ms),
    )


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two sequences of equal length >= 2, but got {len(a)} and {len(b)}")

    def ranks(xs: Sequence[float]) -> list[float]:
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        r = [0.0] * len(xs)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va and vb else 0.0
