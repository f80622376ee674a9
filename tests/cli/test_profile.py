"""CLI: profile output and JSON, validate, list, and one-line errors for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hirisearch.cli import app, main
from tests.conftest import SPECS

runner = CliRunner()
S = str(SPECS / "s.yaml")


def test_profile_s_at_448_is_five_gflops_and_agrees() -> None:
    res = runner.invoke(app, ["profile", S, "--res", "448", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[0])
    for key in (
        "spec",
        "family",
        "img_size",
        "params",
        "macs",
        "macs_traced",
        "convention",
        "stages",
    ):
        assert key in doc
    assert doc["img_size"] == 448 and doc["family"] == "hiri_vit"
    assert abs(doc["macs"] / 1e9 - 5.0) <= 0.05 * 5.0
    assert abs(doc["macs_traced"] - doc["macs"]) <= 1e-3 * doc["macs"]
    assert [s["name"] for s in doc["stages"]] == [
        "stem",
        "stage1",
        "stage2",
        "stage3",
        "stage4",
        "stage5",
        "head",
    ]
    assert sum(s["macs"] for s in doc["stages"]) == doc["macs"]
    assert doc["stages"][5]["out_shape"] == [1, 448, 7, 7]
    assert "attention included" in doc["convention"]


def test_profile_several_resolutions_and_batch() -> None:
    res = runner.invoke(
        app, ["profile", S, "--res", "224", "448", "--batch", "2", "--json", "--no-trace"]
    )
    assert res.exit_code == 0, res.output
    docs = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert [d["img_size"] for d in docs] == [224, 448]
    one = json.loads(
        runner.invoke(app, ["profile", S, "--res", "224", "--json", "--no-trace"]).stdout
    )
    assert docs[0]["macs"] == 2 * one["macs"] and docs[0]["params"] == one["params"]


def test_profile_table_states_the_convention() -> None:
    res = runner.invoke(app, ["profile", S, "--res", "448", "--depth", "2"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "GFLOPs = GMACs, multiply-add counted once, attention included" in res.stdout
    assert "batch 1" in res.stdout and "stage5" in res.stdout and "stages.4.blocks" in res.stdout


def test_validate_and_list() -> None:
    res = runner.invoke(app, ["validate", S])
    assert res.exit_code == 0 and "ok" in res.stdout
    res = runner.invoke(app, ["list", "--json"])
    doc = json.loads(res.stdout)
    assert "hiri_vit" in doc["families"]
    assert any(s["path"].endswith("hiri_vit/s.yaml") for s in doc["specs"])


def _bad(tmp_path: Path, edit) -> str:
    d = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())
    edit(d)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(d))
    return str(p)


@pytest.mark.parametrize(
    ("make_args", "words"),
    [
        (lambda t: ["profile", str(t / "missing.yaml")], "missing.yaml: file not found"),
        (lambda t: ["profile", _write(t, "family: [\n")], "YAML syntax error"),
        (lambda t: ["profile", _bad(t, lambda d: d.update(colour="red"))], "colour: unknown key"),
        (lambda t: ["profile", _bad(t, lambda d: d.update(depths="deep"))], "depths: "),
        (
            lambda t: ["profile", _bad(t, lambda d: d.update(depths=[2, -3, 4, 6, 3]))],
            "depths[1]: must be >= 1",
        ),
        (
            lambda t: ["profile", _bad(t, lambda d: d.update(num_heads=[0, 0, 4, 7, 14]))],
            "num_heads[3]:",
        ),
        (
            lambda t: ["profile", S, "--res", "450"],
            "img_size: HIRI-ViT takes input sizes that are multiples of 32",
        ),
        (
            lambda t: ["validate", _bad(t, lambda d: d.update(img_size=100))],
            "nearest valid: 96 or 128",
        ),
        (lambda t: ["profile", S, "--counters", "flopsy"], "unknown counter 'flopsy'"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, make_args, words: str, capsys) -> None:
    args = make_args(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code != 0
    assert words in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.output + res.stderr
    # the console-script entry point gives the same one line and a non-zero code
    code = main(args)
    err = capsys.readouterr().err
    assert code != 0 and words in err and len(err.strip().splitlines()) == 1


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "syntax.yaml"
    p.write_text(text)
    return str(p)


def test_usage_error_is_one_line(capsys) -> None:
    code = main(["profile", S, "--batch", "zero"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "usage error" in err
