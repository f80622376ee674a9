"""``bench --train --task``: a task model's training step timed as ``bench --train`` times a bare
model's, with the analytic training GFLOPs of the step beside it, split into backbone / neck /
head as ``profile --task --train`` splits them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hirisearch
from hirisearch.cli import app
from tests.conftest import SPECS

runner = CliRunner()
SWIN = str(SPECS / "swin" / "t.yaml")
FAST = ["--device", "cpu", "--threads", "1", "--min-time", "0", "--warmup", "0"]


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_bench_train_task_times_the_task_model_with_its_split() -> None:
    args = ["bench", SWIN, "--task", "ade-segformer", "--res", "128", "--train", *FAST]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[0])
    assert doc["kind"] == "train_bench" and doc["name"] == "Swin-T+ade-segformer"
    assert doc["batch"] == 1 and doc["median_ms"] > 0 and doc["runs"] >= 5
    # the analytic figures are profile --task --train's: the whole step and each part
    prof = hirisearch.profile(SWIN, 128, task="ade-segformer", trace=False, train={}, memories=[])
    assert prof.train is not None
    assert doc["train_macs"] == prof.train.cost.macs.total
    rows = {r.path: r.macs.total for r in prof.train.rows}
    split = doc["task"]
    assert (split["task"], split["img_size"]) == ("ade-segformer", [128, 128])
    parts = {p["part"]: p for p in split["parts"]}
    assert [parts["backbone"]["name"], parts["head"]["name"]] == ["Swin-T", "segformer"]
    assert {k: p["train_macs"] for k, p in parts.items()} == {k: rows[k] for k in parts}
    assert sum(p["train_macs"] for p in parts.values()) == doc["train_macs"]
    assert sum(p["params"] for p in parts.values()) == prof.params
    assert doc["gmacs_per_s"] == pytest.approx(doc["train_macs"] / 1e6 / doc["median_ms"])
    # the table says the task model and its split
    shown = runner.invoke(app, args, env={"COLUMNS": "100"})
    assert shown.exit_code == 0, shown.output
    assert "Swin-T+ade-segformer" in shown.stdout and "task split of the timed step" in shown.stdout
    assert "backbone" in shown.stdout and "segformer" in shown.stdout


def test_a_step_torch_refuses_is_one_line() -> None:
    """UperNet's 1x1 pooling branch has one value per channel at batch 1, which BatchNorm
    refuses in training (as mmseg's would): an error naming the batch, not a traceback."""
    args = ["bench", SWIN, "--task", "ade-upernet", "--res", "128", "--train", *FAST]
    res = runner.invoke(app, args)
    assert res.exit_code != 0
    assert "torch refused the training step at batch 1" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
