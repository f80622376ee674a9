"""CLI run folders: profile --out, the default reports/<timestamp>-<name>/ folder, sweep, and
``hirisearch report DIR`` regenerating from results.json (one-line errors when it cannot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hirisearch.cli import app, main
from tests.conftest import SPECS

runner = CliRunner()
S = str(SPECS / "s.yaml")
B = str(SPECS / "b.yaml")


def _folder(stdout: str) -> Path:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("run folder: "))
    return Path(line.removeprefix("run folder: "))


def test_profile_out_writes_the_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        app, ["profile", S, B, "--res", "448", "--no-trace", "--report", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert _folder(res.stdout) == out
    doc = json.loads((out / "results.json").read_text())
    assert doc["kind"] == "profile" and [r["name"] for r in doc["results"]] == [
        "HIRI-ViT-S",
        "HIRI-ViT-B",
    ]
    assert doc["command"].startswith("hirisearch profile ") and "--no-trace" in doc["command"]
    md = (out / "report.md").read_text()
    assert "| HIRI-ViT-S " in md and "4.96" in md  # HIRI-ViT-S at 448: 4.96 GFLOPs
    assert {p.name for p in (out / "plots").iterdir()} == {
        "stages.png",
        "stages.svg",
        "operators.png",
        "operators.svg",
    }
    csv = (out / "results.csv").read_text().splitlines()
    assert len(csv) == 3 and csv[1].split(",")[7] == str(doc["results"][0]["macs"])

    # regenerate: identical reports from results.json alone
    before = {n: (out / n).read_bytes() for n in ("report.md", "report.html", "results.csv")}
    for n in before:
        (out / n).unlink()
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert str(out / "report.html") in res.stdout
    assert {n: (out / n).read_bytes() for n in before} == before


def test_profile_default_folder_and_json_stdout_stays_json() -> None:
    res = runner.invoke(app, ["profile", S, "--res", "224", "--no-trace", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # stdout holds the JSON document only
    assert doc["img_size"] == 224
    assert "hirisearch: run folder: reports/" in res.stderr
    (folder,) = Path("reports").iterdir()
    assert folder.name.endswith("-HIRI-ViT-S")
    # without --report: the data and the Markdown report, no plots (matplotlib is not loaded)
    assert {"results.json", "results.csv", "report.md"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "report.html").exists() and not (folder / "plots").exists()
    assert "`hirisearch report DIR` draws them" in (folder / "report.md").read_text()
    res = runner.invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    assert (folder / "report.html").exists() and (folder / "plots" / "stages.svg").exists()


def test_sweep_skips_sizes_a_model_cannot_take(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    res = runner.invoke(app, ["sweep", S, B, "--res", "224:320:32", "--res", "100", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert _folder(res.stdout) == out
    assert "HIRI-ViT-S: skipped 100" in res.stderr and "multiples of 32" in res.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["kind"] == "sweep" and doc["img_sizes"] == [100, 224, 256, 288, 320]
    s = doc["series"][0]
    assert s["method"] == "analytic" and [p["img_size"] for p in s["points"]] == [
        224,
        256,
        288,
        320,
    ]
    assert [k["img_size"] for k in s["skipped"]] == [100]
    # the analytic sweep point equals the profile's analytic count at the same size
    prof = json.loads(
        runner.invoke(app, ["profile", S, "--res", "288", "--json", "--no-trace"]).stdout
    )
    p288 = next(p for p in s["points"] if p["img_size"] == 288)
    assert p288["macs"] == prof["macs"] and p288["params"] == prof["params"]
    md = (out / "report.md").read_text()
    assert "| input (px) | HIRI-ViT-S GFLOPs (GMACs) | HIRI-ViT-B GFLOPs (GMACs) |" in md
    assert "|        100 |" in md and (out / "plots" / "scaling.svg").exists()


def test_sweep_json_and_bare_resolutions() -> None:
    res = runner.invoke(app, ["sweep", S, "224", "448", "--batch", "2", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["img_sizes"] == [224, 448] and doc["batch"] == 2
    one = json.loads(runner.invoke(app, ["sweep", S, "448", "--json"]).stdout)
    assert doc["series"][0]["points"][1]["macs"] == 2 * one["series"][0]["points"][0]["macs"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "results.json: file not found"),
        ('{"kind": "sweep", ', "not valid JSON: line 1"),
        ('{"kind": "poster"}', "kind: expected one of profile, compare, sweep, bench, search"),
        ('{"kind": "bench", "records": [{"name": "x"}]}', "bench: records[0].spec: required"),
    ],
)
def test_report_on_a_bad_folder_is_one_line(tmp_path: Path, content, words, capsys) -> None:  # noqa: ANN001
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2
    assert words in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.output + res.stderr
    code = main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("res_arg", "words"),
    [("224:abc", "expected an integer or START:STOP[:STEP]"), ("448:224", "`0 < start <= stop`")],
)
def test_sweep_bad_resolutions(res_arg: str, words: str) -> None:
    res = runner.invoke(app, ["sweep", S, "--res", res_arg])
    assert res.exit_code == 1 and words in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_sweep_latency_adds_measured_points(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from hirisearch.cli import app
    from tests.conftest import SPECS

    out = tmp_path / "sw"
    res = CliRunner().invoke(
        app,
        [
            "sweep",
            str(SPECS / "s.yaml"),
            "--res",
            "64,96",
            "--latency",
            "--device",
            "cpu",
            "--min-time",
            "0.02",
            "--out",
            str(out),
        ],  # fmt: skip
    )
    assert res.exit_code == 0, res.output
    points = json.loads((out / "results.json").read_text())["series"][0]["points"]
    assert [p["img_size"] for p in points] == [64, 96]
    assert all(p["latency_ms"] > 0 for p in points)
    assert "latency (ms)" in res.stdout
