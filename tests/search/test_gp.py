"""Optuna's Gaussian-process sampler (``strategy: gp``) runs past its random start-up trials: its
model is fitted (SciPy and torch are installed), and the front holds feasible configurations only."""

from __future__ import annotations

from pathlib import Path

from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from tests.search.conftest import write_space

#: Optuna's GPSampler draws this many trials at random before its model is fitted.
GP_STARTUP = 10


def test_gp_fits_its_model_past_the_start_up_trials(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path, strategy="gp"))
    trials = GP_STARTUP + 4
    result = run_search(space, SearchOptions(out=tmp_path / "run", trials=trials, verify=False))
    assert result.strategy == "gp"
    assert result.complete == trials
    assert result.pareto and all(
        e.record.feasible and e.record.macs <= 0.26e9 for e in result.pareto
    )
