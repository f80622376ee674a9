"""``--res HxW`` (height x width) in every command that takes a size, its documents and run folders,
and the one-line error for a malformed size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import hirisearch
from hirisearch.cli import app
from hirisearch.models import get_family
from hirisearch.spec import load_spec
from tests.conftest import SPECS
from tests.fuzzing import assert_refused, run_cli

runner = CliRunner()
SWIN = str(SPECS / "swin" / "t.yaml")
DEIT = str(SPECS / "deit" / "t.yaml")
HIRI = str(SPECS / "hiri_vit" / "s.yaml")
FAST = ["--device", "cpu", "--threads", "1", "--min-time", "0", "--warmup", "0"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _json(args: list[str]) -> Any:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[0])


def _analytic_macs(path: str, hw: tuple[int, int]) -> int:
    spec = load_spec(path)
    family = get_family(spec.family)
    return family.cost(family.plan(spec, hw)).total.macs


@pytest.mark.parametrize("text", ["800x1280", "800X1280"])
def test_profile_takes_height_by_width(text: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    doc = _json(["profile", SWIN, "--res", text, "--no-trace", "--json", "-o", str(out)])
    assert doc["img_size"] == [800, 1280] and doc["input_shape"] == [1, 3, 800, 1280]
    assert doc["macs"] == _analytic_macs(SWIN, (800, 1280))
    assert doc["stages"][-3]["out_shape"] == [1, 768, 25, 40]  # stage 4: stride 32 per axis
    assert "800x1280" in (out / "results.csv").read_text()
    assert "input 800x1280" in (out / "report.md").read_text()
    assert json.loads((out / "results.json").read_text())["results"][0]["img_size"] == [800, 1280]


def test_profile_terminal_shows_the_size(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["profile", DEIT, "--res", "224x320", "-o", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    assert "input 224x320, batch 1" in res.stdout and "per stage at 224x320" in res.stdout
    assert "1x192x14x20" in res.stdout  # the token grid: (224 / 16) x (320 / 16)


def test_a_square_size_keeps_its_int_form(tmp_path: Path) -> None:
    doc = _json(["profile", SWIN, "--res", "224x224", "--no-trace", "--json", "-o", str(tmp_path)])
    assert doc["img_size"] == 224


def test_compare_at_a_non_square_size(tmp_path: Path) -> None:
    args = ["compare", SWIN, HIRI, "--res", "800x1280", "224", "--no-trace", "-o", str(tmp_path)]
    doc = _json([*args[:-2], "--json", "-o", str(tmp_path / "j")])
    sizes = [r["img_size"] for r in doc]
    assert sizes == [[800, 1280], 224, [800, 1280], 224]
    res = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "resolutions 224, 800x1280" in res.stdout and "25x40" in res.stdout


def test_sweep_mixes_squares_and_pairs(tmp_path: Path) -> None:
    args = ["sweep", DEIT, "--res", "224,224x320", "448x640", "--json", "-o", str(tmp_path)]
    doc = _json(args)
    assert doc["img_sizes"] == [224, [224, 320], [448, 640]]
    points = doc["series"][0]["points"]
    assert [p["img_size"] for p in points] == doc["img_sizes"]
    assert points[1]["macs"] == _analytic_macs(DEIT, (224, 320))
    res = runner.invoke(app, [*args[:-3], "-o", str(tmp_path / "t")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "224x320" in res.stdout and "448x640" in res.stdout
    assert (tmp_path / "t" / "plots" / "scaling.png").stat().st_size > 0


def test_sweep_skips_a_refused_axis(tmp_path: Path) -> None:
    doc = _json(["sweep", DEIT, "--res", "224x330", "224", "--json", "-o", str(tmp_path)])
    (skip,) = doc["series"][0]["skipped"]
    assert skip["img_size"] == [224, 330] and "width 330" in skip["reason"]


def test_bench_at_a_non_square_size(tmp_path: Path) -> None:
    doc = _json(["bench", DEIT, "--res", "64x96", *FAST, "--json", "-o", str(tmp_path)])
    assert doc["img_size"] == [64, 96] and doc["status"] == "ok"
    assert doc["macs"] == _analytic_macs(DEIT, (64, 96))


def test_bench_train_at_a_non_square_size() -> None:
    doc = _json(["bench", DEIT, "--res", "64x96", *FAST, "--train", "--batch", "2", "--json"])
    assert doc["kind"] == "train_bench" and doc["img_size"] == [64, 96]


def test_profile_train_at_a_non_square_size(tmp_path: Path) -> None:
    args = ["profile", DEIT, "--res", "224x320", "--train", "--no-trace", "--json"]
    doc = _json([*args, "-o", str(tmp_path)])
    assert doc["img_size"] == [224, 320] and doc["train"]["macs"]["total"] > 2 * doc["macs"]


def test_search_takes_a_non_square_size(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(
        f"base: {HIRI}\nimg_size: [448, 640]\naxes:\n  depths.3: [4, 6]\n"
        "objectives:\n  - minimize: gmacs\nstrategy: exact\n"
    )
    doc = _json(["search", str(space), "--dry-run", "--json"])
    low = doc["cheapest"]
    assert low["valid"] and low["macs"] == _analytic_macs_of(HIRI, (448, 640), depths3=4)
    at_res = _json(["search", str(space), "--res", "224x320", "--dry-run", "--json"])
    assert at_res["cheapest"]["macs"] == _analytic_macs_of(HIRI, (224, 320), depths3=4)


def test_a_search_axis_over_one_side(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(
        f"base: {HIRI}\nimg_size: [448, 640]\naxes:\n  img_size.1: [512, 640]\n"
        "objectives:\n  - minimize: gmacs\nstrategy: exact\n"
    )
    doc = _json(["search", str(space), "--dry-run", "--json"])
    assert doc["cheapest"]["values"] == {"img_size.1": 512}
    assert doc["cheapest"]["macs"] == _analytic_macs(HIRI, (448, 512))


def _analytic_macs_of(path: str, hw: tuple[int, int], *, depths3: int) -> int:
    spec = load_spec(path)
    depths = list(spec.depths)
    depths[3] = depths3
    family = get_family(spec.family)
    spec = family.spec_type.model_validate({**spec.model_dump(), "depths": depths})
    return family.cost(family.plan(spec, hw)).total.macs


@pytest.mark.parametrize("command", ["profile", "compare", "sweep", "bench"])
@pytest.mark.parametrize("bad", ["800x", "x800", "800x1280x3", "800*1280", "0x800", "800x-2"])
def test_a_malformed_size_is_one_line(command: str, bad: str) -> None:
    run = run_cli([command, DEIT, f"--res={bad}"], "malformed size")
    assert_refused(run, "--res")


def test_the_api_takes_height_and_width() -> None:
    r = hirisearch.profile(SWIN, img_size=(224, 320), trace=False)
    assert r.img_size == (224, 320) and r.input_shape == (1, 3, 224, 320)
    c = hirisearch.compare([DEIT], [(224, 320), 224], trace=False)
    assert [row.profile.img_size for row in c.rows] == [(224, 320), 224]
    s = hirisearch.sweep([DEIT], [(224, 320)])
    assert json.loads(json.dumps(s.to_json()))["img_sizes"] == [[224, 320]]


def test_timm_models_take_non_square_sizes() -> None:
    vit = hirisearch.profile("timm:vit_tiny_patch16_224", img_size=(224, 320))
    assert vit.img_size == (224, 320) and vit.stages  # pos-embed built for the 14 x 20 grid
    cnn = hirisearch.profile("timm:resnet18", img_size=(200, 300))
    assert cnn.img_size == (200, 300) and cnn.macs > 0
    with pytest.raises(hirisearch.SpecError, match="width 330: not a multiple of the patch"):
        hirisearch.profile("timm:vit_tiny_patch16_224", img_size=(224, 330))
