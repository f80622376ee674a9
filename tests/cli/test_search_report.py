"""search writes its run folder's report (kind ``search``) and places baselines beside the front."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hirisearch.cli import app
from tests.conftest import SPECS

runner = CliRunner()


def test_search_report_with_baselines(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from hirisearch.latency.predict import CACHE_ENV, save_calibration
    from tests.latency.calibrations import synthetic_calibration

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    save_calibration(synthetic_calibration())  # the space's latency budget reads it
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "search",
            str(SPECS / "search" / "hiri_vit_5g.yaml"),
            "--trials",
            "12",
            "--no-verify",
            "--out",
            str(out),
            "--baseline",
            str(SPECS / "swin" / "t.yaml"),
        ],  # fmt: skip
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert "Swin-T" in res.stdout and "baseline" in res.stdout
    doc = json.loads((out / "results.json").read_text())
    assert doc["kind"] == "search" and doc["trials"]
    assert doc["run"]["exact"]["configurations"] == 5_832_000
    (swin,) = doc["baselines"]
    # Swin-T at the space's 448 input (window following the resolution): 4x its 224 cost or more
    assert swin["name"] == "Swin-T" and swin["macs"] > 4 * 4.49e9
    assert swin["objectives"]["params"] == swin["params"]
    front = [t for t in doc["trials"] if t["pareto"]]
    assert front and all(t["feasible"] and t["macs"] <= 5.0e9 for t in front)
    assert all(t["latency_ms"] <= 150.0 for t in front)
    assert doc["budgets"]["gmacs"] == 5.0
    assert (out / "report.html").stat().st_size > 10_000
