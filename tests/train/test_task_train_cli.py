"""``profile --task ... --train``: the training figures of the whole task model (backbone, neck
and head twins), without tracing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hirisearch.cli import app
from hirisearch.spec import load_spec
from hirisearch.tasks.model import cost_task, plan_task
from hirisearch.tasks.train import train_family
from hirisearch.train.cost import TrainModel
from tests.conftest import SPECS

runner = CliRunner()
SWIN = str(SPECS / "swin" / "t.yaml")
ARGS = ["profile", SWIN, "--task", "coco-maskrcnn", "--res", "256x384", "--train", "--no-trace"]


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # commands write their run folders under ./reports/


def test_profile_task_train_prints_the_split() -> None:
    res = runner.invoke(app, ARGS, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "training GFLOPs per stage" in res.stdout
    rows = {ln.split("│")[1].strip() for ln in res.stdout.splitlines() if ln.count("│") > 4}
    assert {"backbone", "neck", "head", "total"} <= rows


def test_profile_task_train_json_is_the_task_models_twin() -> None:
    res = runner.invoke(app, [*ARGS, "--json"])
    assert res.exit_code == 0, res.output
    train = json.loads(res.stdout)["train"]
    plan = plan_task(load_spec(SWIN), "coco-maskrcnn", (256, 384))
    model = TrainModel.of(train_family(plan), plan, cost_task(plan))
    assert train["macs"] == model.macs().to_json()
    stages = {s["name"]: s["macs"] for s in train["stages"]}
    assert list(stages) == ["backbone", "neck", "head"]
    assert sum(s["total"] for s in stages.values()) == train["macs"]["total"]
    for part in ("neck", "head"):  # every operator there computes its input's gradient too
        assert stages[part]["backward"] == 2 * stages[part]["forward"] > 0
    memory = train["memory_bytes"]
    params = cost_task(plan).total.params
    assert memory["params"] == memory["grads"] == 4 * params  # one gradient per parameter
    assert memory["activations"] > 0 and train["macs_traced"] is None
