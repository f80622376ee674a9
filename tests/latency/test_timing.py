"""The timer: a coarse clock never yields a 0 ms sample."""

from __future__ import annotations

import math
import time

import torch

from hirisearch.latency import timing
from hirisearch.latency.timing import calls_per_sample, time_callable


def test_calls_per_sample() -> None:
    assert calls_per_sample(1e-9, 1e-4) == 1  # Linux: nanosecond clocks, one call per sample
    assert calls_per_sample(1e-3, 1e-4) == 1000  # 100 ticks of 1 ms at 0.1 ms per call
    assert calls_per_sample(15.6e-3, 1e-5) == timing.MAX_CALLS
    assert calls_per_sample(1e-3, 0.0) == timing.MAX_CALLS


def test_coarse_process_clock_gives_no_zero_sample(monkeypatch) -> None:
    tick = 1e-3
    real = time.process_time
    monkeypatch.setattr(timing.time, "process_time", lambda: math.floor(real() / tick) * tick)
    info = time.get_clock_info
    monkeypatch.setattr(
        timing.time,
        "get_clock_info",
        lambda name: (
            type("Info", (), {"resolution": tick})() if name == "process_time" else info(name)
        ),
    )
    monkeypatch.setattr(timing, "MIN_TICKS", 5)

    def work() -> None:  # about 50 us of CPU: one call alone reads 0 ms on a 1 ms clock
        sum(range(2000))

    samples = time_callable(
        work, torch.device("cpu"), warmup_s=0.01, min_time_s=0, min_runs=3, clock="cpu"
    )
    assert len(samples) == 3 and all(s > 0 for s in samples)
    assert all(s < 1.0 for s in samples)  # per call, not per group of calls
