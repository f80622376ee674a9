"""Every command that predicts latency gives its interval: ``predicted_ms``,
``predicted_interval_ms`` [low, high] and ``predicted_coverage`` in its JSON, the compact
``152 (139-168)`` form in its table."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hirisearch.cli import app
from hirisearch.latency import predictor as pr
from hirisearch.latency.predict import interval_of, predict_latency_ms
from hirisearch.targets import resolve
from tests.conftest import SPECS
from tests.latency.calibrations import SYNTHETIC_INTERVALS, uniform_calibration

runner = CliRunner()
S = str(SPECS / "s.yaml")
SWIN = str(SPECS / "swin" / "t.yaml")


@pytest.fixture(autouse=True)
def _calibrated(tmp_path, monkeypatch):
    monkeypatch.setenv(pr.CACHE_ENV, str(tmp_path))
    cal = uniform_calibration()
    pr.save_calibration(type(cal)(**{**cal.__dict__, "intervals": SYNTHETIC_INTERVALS}))
    return pr.load_calibration("cpu")


def _check(doc: dict, ref: str, size: int, coverage: float, cal) -> None:  # noqa: ANN001
    tree = resolve(ref).at(size).tree
    family = resolve(ref).family
    want = interval_of(predict_latency_ms(tree, cal, family=family), cal, family=family,
                       coverage=coverage)  # fmt: skip
    assert doc["predicted_ms"] == pytest.approx(want.ms)
    assert doc["predicted_interval_ms"] == pytest.approx([want.low_ms, want.high_ms])
    assert doc["predicted_coverage"] == coverage
    assert doc["predicted_interval_ms"][0] < doc["predicted_ms"] < doc["predicted_interval_ms"][1]


def test_profile_predict(_calibrated, tmp_path) -> None:
    res = runner.invoke(
        app, ["profile", S, "--res", "448", "--no-trace", "--predict", "--coverage", "0.8",
              "--json", "--out", str(tmp_path / "p")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    _check(doc, S, 448, 0.8, _calibrated)
    assert doc["predicted_interval_basis"] == "held-out hiri_vit"


def test_compare_predict(_calibrated, tmp_path) -> None:
    args = ["compare", S, SWIN, "--res", "224", "448", "--no-trace", "--predict"]
    res = runner.invoke(app, [*args, "--json", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    docs = json.loads(res.stdout)
    assert len(docs) == 4
    for doc in docs:
        _check(doc, doc["spec"], doc["img_size"], 0.9, _calibrated)
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "c2")], env={"COLUMNS": "80"})
    assert res.exit_code == 0 and "predicted ms" in res.stdout and "(90%)" in res.stdout
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    plain = runner.invoke(app, ["compare", S, "--res", "224", "--no-trace", "--json",
                                "--out", str(tmp_path / "c3")])  # fmt: skip
    assert "predicted_ms" not in json.loads(plain.stdout)[0]  # only when asked


def test_sweep_predict(_calibrated, tmp_path) -> None:
    args = ["sweep", S, "--res", "224,448", "--predict", "--device", "cpu", "--no-report"]
    res = runner.invoke(app, [*args, "--json", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    points = json.loads(res.stdout)["series"][0]["points"]
    for p in points:
        _check(p, S, p["img_size"], 0.9, _calibrated)
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "s2")], env={"COLUMNS": "80"})
    assert "with its 90% interval" in res.stdout and "predicted (ms)" in res.stdout
    plain = runner.invoke(app, ["sweep", S, "--res", "224", "--json", "--no-report",
                                "--out", str(tmp_path / "s3")])  # fmt: skip
    assert "predicted_ms" not in json.loads(plain.stdout)["series"][0]["points"][0]


def test_bad_coverage_is_one_line(tmp_path) -> None:
    for cmd in (["compare", S, "--no-trace"], ["sweep", S, "--res", "224", "--device", "cpu"]):
        res = runner.invoke(app, [*cmd, "--predict", "--coverage", "0", "--out", str(tmp_path)])
        err = res.stderr.strip()
        assert res.exit_code != 0 and len(err.splitlines()) == 1, res.output
        assert "`0 < coverage < 1` must hold, but got coverage=0" in err
