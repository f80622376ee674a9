"""--task on the commands and task= in the API: the backbone / neck / head split."""

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
HRVIT = str(SPECS / "hrvit" / "b1.yaml")


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # commands write their run folders under ./reports/


def test_profile_task_prints_the_split_and_the_conventions() -> None:
    res = runner.invoke(
        app, ["profile", SWIN, "--task", "ade-upernet", "--no-trace"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "task ade-upernet: input 512x512" in out and "auxiliary FCN head" in out
    rows = {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 6}
    assert {"backbone", "head"} <= set(rows)
    assert "27.52M" in rows["backbone"] and "32.42M" in rows["head"]


def test_profile_task_json_has_the_task_block() -> None:
    res = runner.invoke(app, ["profile", HRVIT, "--task", "ade-segformer", "--json", "--no-trace"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    task = doc["task"]
    assert task["task"] == "ade-segformer" and task["img_size"] == [512, 512]
    parts = {p["part"]: p for p in task["parts"]}
    assert set(parts) == {"backbone", "head"}
    assert parts["backbone"]["params"] + parts["head"]["params"] == doc["params"]
    assert abs(parts["backbone"]["macs_share"] + parts["head"]["macs_share"] - 1) < 1e-9
    assert [s["name"] for s in doc["stages"]] == ["backbone", "head"]


def test_compare_and_sweep_take_a_task() -> None:
    res = runner.invoke(
        app, ["compare", SWIN, HRVIT, "--task", "ade-upernet", "--res", "256", "--no-trace"]
    )
    assert res.exit_code == 0, res.output
    assert "Swin-T+ade-upernet" in res.stdout and "HRViT-b1+ade-upernet" in res.stdout
    res = runner.invoke(app, ["sweep", HRVIT, "--task", "ade-segformer", "--res", "256,512"])
    assert res.exit_code == 0, res.output
    assert "HRViT-b1+ade-segformer" in res.stdout


def test_task_errors_are_one_line() -> None:
    res = runner.invoke(app, ["profile", SWIN, "--task", "ade-upernt", "--no-trace"])
    assert res.exit_code == 2 and "valid: " in res.output and "ade-segformer," in res.output
    res = runner.invoke(app, ["profile", "torchvision:resnet18", "--task", "ade-upernet"])
    assert res.exit_code != 0 and "--task takes spec files" in res.output
    args = ["profile", "timm:resnet50", "--task", "ade-segformer", "--train", "--checkpoint"]
    res = runner.invoke(app, [*args, "blocks"])  # traced and simulated: nothing to checkpoint
    out = " ".join(res.output.split())
    assert res.exit_code != 0 and "timm:ResNet backbone's dense form has no training twin" in out
    assert "use checkpoint none" in out


def test_api_profile_with_a_task() -> None:
    r = hirisearch.profile(SWIN, task="ade-upernet", img_size=256, trace=False)
    assert r.task is not None and r.task.img_size == (256, 256)
    assert [p.part for p in r.task.parts] == ["backbone", "head"]
    assert r.params == sum(p.params for p in r.task.parts)


def test_the_split_follows_the_convention() -> None:
    r = hirisearch.profile(HRVIT, task="ade-segformer", convention="hrvit", trace=False)
    assert r.task is not None and r.macs == sum(p.macs for p in r.task.parts)
    ours = hirisearch.profile(HRVIT, task="ade-segformer", trace=False)
    assert r.macs < ours.macs and r.params == ours.params


def test_compare_shows_the_backbone_share_of_each_task_model() -> None:
    """The column equals the backbone's share in the JSON split (Swin-T under UperNet at 512:
    25.50 of 236.86 GFLOPs, 10.8%)."""
    args = ["compare", SWIN, "--task", "ade-upernet", "--no-trace"]
    res = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    row = next(ln for ln in res.stdout.splitlines() if ln.startswith("Swin-T+ade-upernet"))
    doc = json.loads(runner.invoke(app, [*args, "--json"]).stdout)[0]
    share = next(p["macs_share"] for p in doc["task"]["parts"] if p["part"] == "backbone")
    assert row.split()[-1] == f"{share:.1%}" == "10.8%"
    assert "backbone: its share of the task model's GFLOPs" in res.stdout
