"""Timing a callable on the CPU or a CUDA device: warm-up, then timed runs until a minimum time.

CUDA runs are timed with CUDA events (the device's own clock); CPU runs with ``perf_counter`` (wall
time) or ``process_time`` (the process's CPU time, nanosecond resolution on Linux). This module
knows nothing of models, calibration or prediction, so every timing caller imports it without
importing the others.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["CLOCKS", "sync", "time_callable"]

CLOCKS = ("wall", "cpu")
#: A sample spans at least this many ticks of its clock (its reading is then exact to 1%).
MIN_TICKS = 100
#: At most this many calls per sample.
MAX_CALLS = 1000


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_callable(
    fn: Callable[[], Any],
    device: torch.device,
    *,
    warmup_s: float = 0.5,
    min_time_s: float = 2.0,
    min_runs: int = 5,
    max_runs: int = 10_000,
    clock: str = "wall",
) -> list[float]:
    """Run ``fn`` for ``warmup_s`` (at least once), then time it until ``min_time_s`` has passed and
    at least ``min_runs`` runs were made. Returns the per-run times in milliseconds.

    ``clock="cpu"`` (CPU only; ignored on CUDA, which uses events) times the process's CPU time
    instead of wall time: on a machine shared with other work, single-threaded CPU time is the time
    the pass would take alone, while wall time includes every moment the scheduler gave the cores
    to someone else. Where the clock is coarse, each sample times several calls and reports the
    time per call (:func:`calls_per_sample`), so no sample reads 0 ms.
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be 'wall' or 'cpu', but got {clock!r}")
    start = time.perf_counter()
    calls = 0
    while True:
        fn()
        sync(device)
        calls += 1
        if time.perf_counter() - start >= warmup_s:
            break
    samples: list[float] = []
    begin = time.perf_counter()
    if device.type == "cuda":
        while len(samples) < max_runs and (
            len(samples) < min_runs or time.perf_counter() - begin < min_time_s
        ):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            e.synchronize()
            samples.append(s.elapsed_time(e))
        return samples
    if clock == "wall":
        now, resolution = time.perf_counter, time.get_clock_info("perf_counter").resolution
    else:
        now, resolution = time.process_time, time.get_clock_info("process_time").resolution
    inner = calls_per_sample(resolution, (begin - start) / calls)
    while len(samples) < max_runs and (
        len(samples) < min_runs or time.perf_counter() - begin < min_time_s
    ):
        t0 = now()
        for _ in range(inner):
            fn()
        elapsed = now() - t0
        if elapsed < MIN_TICKS * resolution and inner < MAX_CALLS:
            inner = min(MAX_CALLS, 2 * inner)  # too few ticks to read: time more calls together
            samples.clear()
            continue
        samples.append(elapsed * 1e3 / inner)
    return samples


def calls_per_sample(resolution_s: float, call_s: float) -> int:
    """Calls timed together per sample so that a sample spans at least :data:`MIN_TICKS` ticks of
    a clock of ``resolution_s`` (1 on Linux's nanosecond clocks; several on a coarse process
    clock, whose single-call readings would otherwise be 0 ms for a fast operator)."""
    if call_s <= 0:
        return MAX_CALLS
    return max(1, min(MAX_CALLS, math.ceil(MIN_TICKS * resolution_s / call_s)))
