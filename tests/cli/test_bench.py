"""CLI: bench table and JSON, one-line errors, the memory refusal, ctrl-c, calibrate, profile."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from hirisearch.cli import app
from hirisearch.latency import calibration, device, measure
from hirisearch.latency import predictor as pr
from tests.conftest import SPECS
from tests.latency.calibrations import few_benches, uniform_calibration

runner = CliRunner()
S = str(SPECS / "s.yaml")
FAST = ["--min-time", "0", "--warmup", "0"]


@pytest.fixture(autouse=True)
def _one_thread():
    """One CPU thread: on a shared 2-core machine, two threads per forward pass stall each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _one_line_error(res, *fragments: str) -> None:
    err = res.stderr.strip()
    assert res.exit_code != 0 and len(err.splitlines()) == 1, res.output
    assert err.startswith("hirisearch: error:")
    for f in fragments:
        assert f in err, err


def test_bench_table_every_resolution_and_batch() -> None:
    res = runner.invoke(
        app,
        ["bench", S, "--res", "64", "96", "--device", "cpu", "--batch", "1,2", *FAST],
        env={"COLUMNS": "220"},
    )
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "GFLOPs = GMACs, attention included" in out and "threads" in out
    rows = [line for line in out.splitlines() if "HIRI-ViT-S" in line and "│" in line]
    assert len(rows) == 4
    assert "peak RSS growth" in res.stderr


def test_bench_json_lines() -> None:
    res = runner.invoke(
        app, ["bench", S, "64", "--device", "cpu", "--json", "--threads", "1", *FAST]
    )
    assert res.exit_code == 0, res.output
    (doc,) = [json.loads(line) for line in res.stdout.splitlines()]
    for key in (
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
    ):
        assert key in doc
    assert doc["threads"] == 1 and doc["batch"] == 1 and doc["img_size"] == 64


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_one_line() -> None:
    _one_line_error(
        runner.invoke(app, ["bench", S, "64", "--device", "cuda"]), "CUDA is not available"
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--batch", "1,x"], "--batch"),
        (["--batch", "0"], "--batch"),
        (["--dtype", "fp8"], "--dtype"),
        (["--device", "tpu"], "--device"),
        (["--clock", "sundial"], "--clock"),
    ],
)
def test_bad_options_are_one_line(args, fragment) -> None:
    _one_line_error(runner.invoke(app, ["bench", S, "64", *args]), fragment)


def test_memory_refusal_before_running(monkeypatch) -> None:
    monkeypatch.setattr(device, "_mem_available_cpu", lambda meminfo="": 10 * 2**20)

    def never(*a, **k):
        raise AssertionError("nothing may run after a refusal")

    monkeypatch.setattr(measure, "bench_target", never)
    res = runner.invoke(app, ["bench", S, "448", "--device", "cpu", "--batch", "64"])
    _one_line_error(res, "--force", "batch 64")
    assert res.exit_code == 2


def test_ctrl_c_prints_what_was_measured(monkeypatch) -> None:
    real = measure.bench_target

    def interrupted(*a, **k):
        yield from real(*a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(measure, "bench_target", interrupted)
    res = runner.invoke(app, ["bench", S, "64", "--device", "cpu", *FAST], env={"COLUMNS": "220"})
    assert res.exit_code == 130
    assert "HIRI-ViT-S" in res.stdout and "1 result(s) measured so far" in res.stderr


def test_predict_without_calibration_is_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(pr.CACHE_ENV, str(tmp_path))
    res = runner.invoke(app, ["bench", S, "64", "--device", "cpu", "--predict", *FAST])
    _one_line_error(res, "hirisearch calibrate --device cpu")


def test_calibrate_then_predict(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(pr.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(calibration, "default_micro_benchmarks", few_benches)
    res = runner.invoke(
        app, ["calibrate", "--device", "cpu", "--min-time", "0.01", "--threads", "1"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "calibration-cpu.json").exists() and "glue" in res.stdout
    pr.save_calibration(uniform_calibration())  # every category, so that a whole model predicts
    res = runner.invoke(app, ["profile", S, "--res", "224", "--json", "--no-trace", "--predict"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["predicted_ms"] > 0 and doc["macs"] > 1e9
    low, high = doc["predicted_interval_ms"]
    assert low < doc["predicted_ms"] < high and doc["predicted_coverage"] == 0.9
    assert doc["predicted_interval_basis"] == "fallback"  # this calibration holds no errors
    res = runner.invoke(
        app,
        ["bench", S, "64", "--device", "cpu", "--predict", "--coverage", "0.8", "--json", *FAST],
    )
    doc = json.loads(res.stdout)
    low, high = doc["predicted_interval_ms"]
    assert low < doc["predicted_ms"] < high and doc["predicted_coverage"] == 0.8
    res = runner.invoke(
        app, ["bench", S, "64", "--device", "cpu", "--predict", *FAST], env={"COLUMNS": "220"}
    )
    assert res.exit_code == 0 and "predicted ms (90%)" in res.stdout
    assert "interval is the fallback" in res.stderr
    res = runner.invoke(
        app, ["profile", S, "--res", "224", "--no-trace", "--predict"], env={"COLUMNS": "220"}
    )
    assert "90% interval" in res.stdout and "interval is the fallback" in res.stdout
    for bad in (["bench", S, "64", "--device", "cpu"], ["profile", S, "--no-trace"]):
        res = runner.invoke(app, [*bad, "--predict", "--coverage", "1.5"])
        _one_line_error(res, "`0 < coverage < 1` must hold, but got coverage=1.5")


def test_calibrate_auto_is_refused() -> None:
    _one_line_error(runner.invoke(app, ["calibrate", "--device", "auto"]), "one device")


def test_profile_latency_adds_the_measurement() -> None:
    res = runner.invoke(app, ["profile", S, "--res", "64", "--json", "--no-trace", "--latency"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["latency"]["latency_ms"] > 0 and doc["latency"]["batch"] == 1


def test_bench_writes_its_run_folder(tmp_path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(app, ["bench", S, "64", "--device", "cpu", "--out", str(out), *FAST])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["kind"] == "bench" and doc["records"][0]["img_size"] == 64
    assert doc["records"][0]["latency_ms"] > 0
    assert (out / "report.html").stat().st_size > 0
