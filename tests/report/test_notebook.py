"""Results in a notebook: Jupyter's ``_repr_html_``, Rich's ``__rich__``, and
``result.table(depth=...)``, the tables the command line prints, rendered without printing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch import nn

import hirisearch
from hirisearch.errors import HirisearchError
from tests.conftest import SPECS


def _text(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=120)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_a_profile_shows_as_a_table_in_jupyter_and_in_rich(capsys) -> None:  # noqa: ANN001
    r = hirisearch.profile(str(SPECS / "s.yaml"), 224, trace=False)
    html = r._repr_html_()
    assert html.startswith("<pre") and "HIRI-ViT-S" in html and "stage4" in html
    assert "eval mode" in html and "</pre>" in html
    text = _text(r)  # __rich__
    assert "GFLOPs analytic" in text and "stage5" in text
    assert capsys.readouterr().out == ""  # nothing printed by the library


def test_table_depth_gives_the_per_module_breakdown() -> None:
    r = hirisearch.profile(str(SPECS / "s.yaml"), 224, trace=False)  # depth 1
    assert r.rows == ()
    two = r.breakdown(2)
    assert [s.depth for s in two[:2]] == [1, 2] and two[1].path.startswith("stem.")
    shown = str(r.table(depth=2))
    assert "stages.0.blocks" in shown and "stages.0.blocks.0" not in shown
    assert "stages.0.blocks.0" in str(r.table(depth=3))
    assert "stem." not in str(r.table())  # depth 1: the stages


def test_a_model_object_breakdown_and_a_comparison() -> None:
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), nn.Flatten(), nn.LazyLinear(4)
    )
    model(torch.randn(1, 3, 8, 8))  # materialise the lazy layer
    r = hirisearch.profile(model, inputs=torch.randn(1, 3, 8, 8))
    rows = {s.path: s for s in r.breakdown(2)}
    assert rows["0.0"].macs == 8 * 27 * 36 and rows["0.0"].acts == 8 * 36
    assert "0.0" in str(r.table(depth=2))
    c = hirisearch.compare([str(SPECS / "s.yaml"), str(SPECS / "swin" / "t.yaml")], trace=False)
    assert "Swin-T" in c._repr_html_() and "vs first" in _text(c)


def test_a_result_from_a_document_holds_only_its_own_depth() -> None:
    from dataclasses import replace

    r = hirisearch.profile(str(SPECS / "s.yaml"), 224, trace=False, depth=2)
    copy = replace(r)  # a result rebuilt from its fields, as from a document
    assert copy.breakdown(2) == r.rows
    with pytest.raises(HirisearchError, match="profile with depth=3"):
        copy.breakdown(3)


def test_a_task_profile_shows_its_split_as_the_command_prints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hirisearch.cli import app

    swin = str(SPECS / "swin" / "t.yaml")
    r = hirisearch.profile(swin, batch=2, task="ade-upernet", trace=False, train={"batch": 2})
    shown = str(r.table())
    assert "task ade-upernet: input 512x512" in shown and "auxiliary FCN head" in shown
    assert "backbone" in shown and "head" in shown and "training GFLOPs per stage" in shown
    assert "task ade-upernet" in r._repr_html_() and "task ade-upernet" in _text(r)
    monkeypatch.chdir(tmp_path)
    args = ["profile", swin, "--task", "ade-upernet", "--no-trace", "--train", "--batch", "2"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "110"})
    assert res.exit_code == 0, res.output
    printed = [ln.rstrip() for ln in res.stdout.splitlines() if not ln.startswith("run folder")]
    assert [ln.rstrip() for ln in shown.splitlines()] == printed
