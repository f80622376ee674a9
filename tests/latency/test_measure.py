"""Measurement: forced out-of-memory batches, the JSON shape, CPU threads restored, a tiny real run."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from hirisearch.latency.measure import (
    BenchOptions,
    BenchResult,
    bench_model,
    bench_target,
    is_oom,
    time_callable,
)
from hirisearch.targets import resolve
from tests.conftest import SPECS

FAST = {"warmup_s": 0.0, "min_time_s": 0.0, "min_runs": 3}
JSON_KEYS = {
    "latency_ms",
    "iqr_ms",
    "p90_ms",
    "throughput",
    "gmacs_per_s",
    "peak_mem_bytes",
    "device",
    "dtype",
    "batch",
    "threads",
}


class OomAbove(nn.Module):
    """A tiny conv that fails like the allocator does for batches above ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.conv(x)


def _base() -> BenchResult:
    return BenchResult(spec="t", name="tiny", family="test", img_size=8, batch=0, status="", macs=0)


def test_oom_batch_is_reported_and_the_run_goes_on() -> None:
    results = list(
        bench_model(
            lambda: OomAbove(2),
            (3, 8, 8),
            [1, 4, 2],
            BenchOptions(threads=1, **FAST),
            macs_per_sample=1000,
            base=_base(),
        )
    )
    assert [r.status for r in results] == ["ok", "oom", "ok"]
    assert results[1].latency_ms is None and "out of memory" in results[1].error
    assert results[2].latency_ms is not None and results[2].batch == 2
    assert results[2].gmacs_per_s == pytest.approx(2000 / 1e9 / (results[2].latency_ms / 1e3))


def test_other_errors_are_not_swallowed() -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        list(bench_model(Broken, (3,), [1], BenchOptions(**FAST), macs_per_sample=1, base=_base()))


def test_is_oom() -> None:
    assert is_oom(torch.OutOfMemoryError("x")) and is_oom(MemoryError())
    assert is_oom(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"))
    assert not is_oom(RuntimeError("size mismatch")) and not is_oom(ValueError("out of memory"))


def test_json_shape_and_thread_count_restored() -> None:
    before = torch.get_num_threads()
    target = resolve(str(SPECS / "s.yaml"))
    (r,) = bench_target(target, 64, [2], BenchOptions(threads=1, **FAST))
    assert torch.get_num_threads() == before
    doc = json.loads(json.dumps(r.to_json()))
    assert JSON_KEYS <= set(doc)
    assert doc["batch"] == 2 and doc["threads"] == 1 and doc["dtype"] == "fp32"
    assert doc["device"] == "cpu" and doc["status"] == "ok" and doc["img_size"] == 64
    assert doc["macs"] == 2 * target.at(64).tree.total.macs
    assert doc["latency_ms"] > 0 and doc["p90_ms"] >= doc["latency_ms"] > 0
    assert doc["throughput"] == pytest.approx(2 / (doc["latency_ms"] / 1e3))
    assert doc["mem_est_bytes"] > doc["macs"] * 0  # estimate present
    assert doc["mem_est_bytes"] >= target.at(64).tree.total.params * 4


def test_cpu_clock_and_runs() -> None:
    samples = time_callable(
        lambda: sum(range(1000)),
        torch.device("cpu"),
        warmup_s=0,
        min_time_s=0,
        min_runs=4,
        clock="cpu",
    )
    assert len(samples) == 4 and all(s >= 0 for s in samples)
    with pytest.raises(ValueError, match="clock"):
        time_callable(lambda: None, torch.device("cpu"), clock="gpu")


def test_bf16_autocast_and_fuse_on_cpu() -> None:
    target = resolve(str(SPECS / "s.yaml"))
    opts = BenchOptions(dtype="bf16", fuse=True, channels_last=True, threads=1, **FAST)
    (r,) = bench_target(target, 64, [1], opts)
    assert r.status == "ok" and r.env is not None and r.env.dtype == "bf16" and r.env.fuse


@pytest.mark.gpu
def test_cuda_measurement() -> None:
    target = resolve(str(SPECS / "s.yaml"))
    opts = BenchOptions(device=torch.device("cuda"), dtype="fp16", **FAST)
    (r,) = bench_target(target, 224, [4], opts)
    assert r.status == "ok" and r.peak_mem_kind == "cuda max allocated"
    assert r.peak_mem_bytes is not None and r.peak_mem_bytes > target.at(224).tree.total.params


def test_table_shows_oom_rows_and_warnings() -> None:
    from rich.console import Console

    from hirisearch.report.terminal.bench import bench_notes, bench_table

    results = list(
        bench_model(
            lambda: OomAbove(1),
            (3, 8, 8),
            [1, 2],
            BenchOptions(threads=1, **FAST),
            macs_per_sample=1000,
            base=_base(),
        )
    )
    console = Console(width=200, record=True)
    console.print(bench_table(results))
    text = console.export_text()
    assert "OOM" in text and text.count("tiny") == 2
    notes = bench_notes(results)
    assert ("warning", notes[-1][1]) == notes[-1] and "out of memory" in notes[-1][1]
