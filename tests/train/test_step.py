"""A real training step: its measured CPU peak (fresh process, large allocations returned to the
OS, peak resident growth) is within 10% of the simulated peak; a timed step; CUDA (gpu)."""

from __future__ import annotations

import pytest
import torch

from hirisearch.train.config import TrainConfig
from hirisearch.train.cost import TrainModel
from hirisearch.train.measure import measure_train_peak
from hirisearch.train.simulate import simulate_train_peak
from hirisearch.train.timing import time_train_step
from tests.train.conftest import FAMILY_SPECS, sized

MEASURED_TOLERANCE = 0.10


def test_measured_cpu_peak_matches_simulated() -> None:
    _, plan, build = sized(FAMILY_SPECS["vit"], 224)
    config = TrainConfig(batch=2, dtype="bf16", device="cpu")
    sim = simulate_train_peak(build, plan.input_shape, config)
    measured = measure_train_peak(build, plan.input_shape, config)
    assert measured.states == sim.states
    assert abs(sim.peak / measured.peak - 1) <= MEASURED_TOLERANCE, (sim.peak, measured.peak)
    assert "VmHWM" in measured.method


def test_timed_step() -> None:
    _, plan, build = sized(FAMILY_SPECS["vit"], 64)
    timing = time_train_step(
        build,
        plan.input_shape,
        TrainConfig(batch=2, device="cpu"),
        warmup_s=0,
        min_time_s=0,
        min_runs=3,
    )
    assert timing.summary.runs >= 3 and timing.summary.median_ms > 0
    assert timing.to_json()["optimizer"] == "adamw"


@pytest.mark.gpu
@pytest.mark.parametrize("family", ["hiri_vit", "swin"])
def test_cuda_peak_matches_analytic(family) -> None:
    """On a GPU: the analytic peak within 10% of ``torch.cuda.max_memory_allocated``."""
    fam, plan, build = sized(FAMILY_SPECS[family], 448)
    config = TrainConfig(batch=8, dtype="bf16", device="cuda")
    measured = measure_train_peak(build, plan.input_shape, config, device="cuda")
    analytic = TrainModel.of(fam, plan).cost(config).memory
    assert abs(analytic.peak / measured.peak - 1) <= 0.10, (analytic.peak, measured.peak)
    assert torch.cuda.is_available()
