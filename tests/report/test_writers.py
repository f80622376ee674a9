"""Run folders: every kind writes its files atomically; regenerating from results.json alone gives
byte-identical reports; tables are paper-ready (units in the one header row, baselines first)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hirisearch.io import RunDir, RunDirBusyError
from hirisearch.report.run import save as writers
from hirisearch.report.run.document import Table, markdown_table
from hirisearch.report.run.kinds import build_report
from hirisearch.report.run.save import default_run_dir, regenerate, write_run
from hirisearch.report.run.schema import ResultsError
from tests.report.synthetic import DOCS

DERIVED = ("results.csv", "report.md", "report.html")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != RunDir.LOCK
    }


@pytest.fixture(scope="module", params=sorted(DOCS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp(request.param)
    files = write_run(folder, request.param, DOCS[request.param](), command="hirisearch x")
    return request.param, folder, files


def test_write_run_writes_every_file(run) -> None:  # noqa: ANN001
    kind, folder, files = run
    for name in ("results.json", *DERIVED):
        assert (folder / name).stat().st_size > 0
    assert files.plots and all(p.stat().st_size > 1000 for p in files.plots)
    assert {p.suffix for p in files.plots} == {".png", ".svg"}
    doc = json.loads((folder / "results.json").read_text())
    assert doc["kind"] == kind and doc["schema"] == "hirisearch.results/1"
    assert doc["command"] == "hirisearch x" and re.fullmatch(r"\d{4}-.*Z", doc["created"])
    assert not [p for p in folder.rglob("*.tmp")], "temporary files left behind"


def test_regenerate_is_byte_identical(run) -> None:  # noqa: ANN001
    _, folder, _ = run
    before = _snapshot(folder)
    for name in (*DERIVED, "plots"):
        p = folder / name
        if p.is_dir():
            for f in p.iterdir():
                f.unlink()
        else:
            p.unlink()
    regenerate(folder)
    assert _snapshot(folder) == before


def test_html_is_self_contained(run) -> None:  # noqa: ANN001
    _, folder, files = run
    page = (folder / "report.html").read_text()
    srcs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert len(srcs) == sum(1 for p in files.plots if p.suffix == ".png")
    assert (
        "<style>" in page
        and "<table>" in page
        and "http" not in page.replace('name="viewport"', "")
    )


def test_markdown_tables_have_one_header_row_with_units(run) -> None:  # noqa: ANN001
    _, folder, _ = run
    md = (folder / "report.md").read_text()
    titles = re.findall(r"^## (.*)$", md, flags=re.M)
    assert len(titles) == len(set(titles)) and "Plots" in titles
    tables = re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M)
    assert tables
    for t in tables:
        lines = t.splitlines()
        assert re.fullmatch(r"\|(-+:?\|)+", lines[1]), lines[1]  # exactly one header row
        assert not any(re.fullmatch(r"\|(-+:?\|)+", ln) for ln in lines[2:])
        assert len({ln.count("|") - ln.count("\\|") for ln in lines}) == 1
    assert "GFLOPs (GMACs" in md and "GFLOPs = GMACs, multiply-add counted once" in md


def test_baselines_come_first() -> None:
    report = build_report(DOCS["compare"]())
    summary = report.sections[0].tables[0]
    assert [r[0] for r in summary.rows] == ["Swin-T (baseline)", "HIRI-ViT-S"]
    bench = build_report(DOCS["bench"]()).sections[0].tables[0]
    assert bench.rows[0][0] == "Swin-T (baseline)" and bench.rows[1][0] == "Swin-T (baseline)"
    sweep = build_report(DOCS["sweep"]())
    gtable = next(s for s in sweep.sections if s.title == "Resolution sweep").tables[0]
    assert gtable.headers[1].startswith("DeiT-S (baseline)")
    search = build_report(DOCS["search"]())
    pareto = next(s for s in search.sections if s.title == "Pareto front").tables[0]
    assert pareto.rows[0][0] == "HIRI-ViT-S (baseline)"
    assert all(r[0].startswith("trial ") for r in pareto.rows[1:])


def test_numbers_have_paper_precision() -> None:
    summary = build_report(DOCS["compare"]()).sections[0].tables[0]
    hiri = summary.rows[1]
    # params 0.75 * 20.501M, MACs 0.75 * 5.834G, both from the synthetic document
    assert hiri[4] == "15.38" and hiri[5] == "4.38"
    sweep = build_report(DOCS["sweep"]())
    gtable = next(s for s in sweep.sections if s.title == "Resolution sweep").tables[0]
    row_1024 = next(r for r in gtable.rows if r[0] == "1024")
    # DeiT-S at 1024: 4.25 * (1024/224)^2 + 0.36 * (1024/224)^4 = 88.82 + 157.22 G -> one decimal
    assert row_1024[1] == "246.0" and row_1024[3] == "-"  # Swin-T does not take 1024 here


def test_markdown_table_rendering() -> None:
    t = Table(("model", "GFLOPs (GMACs)"), (("a|b", "1.50"), ("c", "12.25")), ("left", "right"))
    assert markdown_table(t).splitlines() == [
        "| model | GFLOPs (GMACs) |",
        "|-------|---------------:|",
        "| a\\|b  |           1.50 |",
        "| c     |          12.25 |",
    ]
    with pytest.raises(ValueError, match=r"`len\(row\) == len\(headers\)` must hold"):
        Table(("a", "b"), (("1",),))


def test_a_failed_render_leaves_the_old_files(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    write_run(tmp_path, "bench", DOCS["bench"]())
    before = _snapshot(tmp_path)

    def boom(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(writers, "render_html", boom)
    with pytest.raises(OSError, match="disk full"):
        regenerate(tmp_path)
    after = _snapshot(tmp_path)
    assert after["report.html"] == before["report.html"]
    assert after["results.json"] == before["results.json"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_busy_folder_and_kind_mismatch(tmp_path: Path) -> None:
    with RunDir(tmp_path), pytest.raises(RunDirBusyError, match="another hirisearch run"):
        write_run(tmp_path, "sweep", DOCS["sweep"]())
    with pytest.raises(ResultsError, match="got a document of kind 'sweep'"):
        write_run(tmp_path, "bench", DOCS["sweep"]())
    bad = DOCS["sweep"]()
    del bad["series"][0]["points"][3]["macs"]
    with pytest.raises(ResultsError, match=r"series\[0\]\.points\[3\]\.macs: required"):
        write_run(tmp_path, "sweep", bad)
    assert not (tmp_path / "results.json").exists()


def test_default_run_dir_is_unique(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    first = default_run_dir("HIRI-ViT S/x", root=tmp_path, now=now)
    assert first == tmp_path / "20260102-030405-HIRI-ViT-S-x"
    first.mkdir()
    assert default_run_dir("HIRI-ViT S/x", root=tmp_path, now=now).name.endswith("-x-2")
