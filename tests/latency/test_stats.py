"""Statistics of timings on known samples."""

from __future__ import annotations

import pytest

from hirisearch.latency.stats import quantile, spearman, summarize


def test_summary_of_known_samples() -> None:
    s = summarize([5.0, 1.0, 4.0, 2.0, 3.0])
    assert s.median_ms == 3.0
    assert s.iqr_ms == pytest.approx(4.0 - 2.0)
    assert s.p90_ms == pytest.approx(4.6)  # 4 + 0.6 * (5 - 4), numpy's linear interpolation
    assert s.mean_ms == 3.0 and s.min_ms == 1.0 and s.runs == 5
    assert s.iqr_ratio == pytest.approx(2 / 3) and s.noisy


def test_quantile_matches_linear_interpolation() -> None:
    xs = [10.0, 20.0, 30.0, 40.0]
    assert quantile(xs, 0.5) == 25.0
    assert quantile(xs, 0.25) == 17.5
    assert quantile(xs, 1.0) == 40.0 and quantile(xs, 0.0) == 10.0
    with pytest.raises(ValueError, match="0 <= q <= 1"):
        quantile(xs, 1.5)


def test_quiet_measurement_is_not_noisy() -> None:
    s = summarize([100.0, 101.0, 99.0, 100.5, 99.5])
    assert s.iqr_ratio < 0.1 and not s.noisy


def test_spearman() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties get average ranks: ranks (0.5, 0.5, 2, 3) vs (0, 1, 2, 3)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)
