"""search spells its options as the other commands do: ``--res``/``-r`` (one resolution: more are
refused with one line naming the flag) and ``--out``/``-o``, a ``Path`` whose default folder is
``reports/<space>-<timestamp>``; every command's ``--res`` and run-folder ``--out`` agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main

from hirisearch.cli import app
from tests.fuzzing import assert_refused, run_cli
from tests.search.conftest import write_space

COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]
#: ``calibrate --out`` names a calibration file, not a run folder.
NOT_RUN_FOLDERS = {"calibrate"}


def _option(command: str, name: str):  # noqa: ANN202
    return next((p for p in COMMANDS[command].params if p.name == name), None)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_res_and_out_are_spelled_alike_everywhere(command: str) -> None:
    res = _option(command, "res")
    if res is not None:
        assert res.opts == ["--res", "-r"] and res.multiple, (command, res.opts)
    out = _option(command, "out")
    if out is not None and command not in NOT_RUN_FOLDERS:
        assert out.opts == ["--out", "-o"], (command, out.opts)
        assert out.type_descriptor.annotation is Path, command  # Typer drops the None


@pytest.mark.parametrize(
    "extra",
    [["--res", "224", "448"], ["--res", "224", "--res", "448"], ["-r", "224", "-r", "448"]],
    ids=["listed", "repeated", "short"],
)
def test_more_than_one_res_is_refused_in_one_line(tmp_path: Path, extra: list[str]) -> None:
    space = str(write_space(tmp_path))
    line = assert_refused(run_cli(["search", space, *extra, "--dry-run"], "search --res"), "--res")
    assert "one input resolution" in line and "224, 448" in line, line


def test_more_than_one_space_file_is_refused(tmp_path: Path) -> None:
    a, b = str(write_space(tmp_path, "a.yaml")), str(write_space(tmp_path, "b.yaml"))
    line = assert_refused(run_cli(["search", a, b, "--dry-run"], "search files"), a, b)
    assert "expected one search-space file, but got 2" in line, line


@pytest.mark.parametrize("spelling", [["--res", "160"], ["-r", "160"], ["160"]])
def test_one_res_overrides_the_space(tmp_path: Path, spelling: list[str]) -> None:
    space = str(write_space(tmp_path))
    run = run_cli(["search", space, *spelling, "--dry-run", "--json"], "search --res")
    assert run.code == 0, run.err
    at_128 = run_cli(["search", space, "--dry-run", "--json"], "search --res")
    cheap, base = json.loads(run.out)["cheapest"], json.loads(at_128.out)["cheapest"]
    assert cheap["params"] == base["params"] and cheap["macs"] > base["macs"]


def test_out_is_a_path_with_a_short_form(tmp_path: Path) -> None:
    space = str(write_space(tmp_path, strategy="exact"))
    run = run_cli(["search", space, "-o", str(tmp_path / "run"), "--no-verify"], "search -o")
    assert run.code == 0, run.err
    assert (tmp_path / "run" / "results.json").is_file()
    assert f"Pareto specs: {tmp_path / 'run' / 'pareto'}/" in run.out


def test_default_run_folder_is_named_after_the_space(tmp_path: Path) -> None:
    space = str(write_space(tmp_path, "tiny.yaml", strategy="exact"))
    run = run_cli(["search", space, "--no-verify", "--json"], "search default out")
    assert run.code == 0, run.err
    (folder,) = Path("reports").iterdir()  # the CLI tests run in a fresh folder
    assert folder.name.startswith("tiny-") and (folder / "results.json").is_file()
    assert json.loads(run.out)["run_dir"] == str(folder)
