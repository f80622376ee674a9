"""CLI: compare (table, --json, --plot) and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from typer.testing import CliRunner

from hirisearch.cli import app, main
from tests.conftest import SPECS

runner = CliRunner()
DEIT = str(SPECS / "deit" / "s.yaml")
SWIN = str(SPECS / "swin" / "t.yaml")
HIRI = str(SPECS / "s.yaml")


def test_compare_table() -> None:
    res = runner.invoke(
        app, ["compare", DEIT, SWIN, "--res", "224", "384", "--no-trace"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "attention included" in out and "resolutions 224, 384" in out
    lines = [ln for ln in out.splitlines() if "│" in ln]
    assert len(lines) == 4
    deit224, deit384, swin224, swin384 = ([c.strip() for c in ln.split("│")[1:-1]] for ln in lines)
    assert deit224[:5] == ["DeiT-S", "224", "22.05M", "4.599", "1.00x"]
    assert deit224[6] == "14x14" and deit384[6] == "24x24"
    assert swin224[:4] == ["Swin-T", "224", "28.29M", "4.491"]
    assert swin224[4] == f"{4.490566656 / 4.598882304:.2f}x" and swin224[6] == "7x7"
    assert swin384[6] == "12x12" and float(swin384[5].rstrip("%")) > 0


def test_compare_json_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "cmp.png"
    res = runner.invoke(
        app,
        ["compare", HIRI, "timm:resnet18", "--res", "224", "448", "--json", "--plot", str(png)],
    )
    assert res.exit_code == 0, res.output
    docs = json.loads(res.stdout)
    assert [(d["name"], d["img_size"]) for d in docs] == [
        ("HIRI-ViT-S", 224),
        ("HIRI-ViT-S", 448),
        ("resnet18", 224),
        ("resnet18", 448),
    ]
    assert docs[2]["family"] == "timm:ResNet" and docs[2]["macs_analytic"] is None
    assert abs(docs[2]["macs"] / 1e9 - 1.82) < 0.02  # ResNet-18: 1.8 GFLOPs at 224
    assert docs[1]["macs_traced"] is not None and abs(docs[1]["agreement"]) <= 1e-3
    img = mpimg.imread(png)
    assert img.shape[0] > 300 and img.shape[1] > 500


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["compare", "timm:deit_smal_patch16_224"], "closest: deit_small_patch16_224"),
        (["compare", SWIN, DEIT, "--res", "250"], "nearest valid: 256 or 224"),
        (
            ["compare", DEIT, "timm:vit_base_patch16_224", "--res", "232"],
            "nearest valid: 224 or 240",
        ),
        (
            ["profile", "timm:convnext_tiny", "--res", "16"],
            "smaller than the network's total stride 32",
        ),
    ],
)
def test_compare_bad_input_is_one_line(args: list[str], words: str, capsys) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code != 0
    assert words in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.output + res.stderr
    code = main(args)
    err = capsys.readouterr().err
    assert code != 0 and words in err and len(err.strip().splitlines()) == 1
