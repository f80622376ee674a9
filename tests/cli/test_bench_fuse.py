"""bench folds BatchNorm by default; --no-fuse keeps it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hirisearch.cli import app
from tests.conftest import SPECS

runner = CliRunner()
FAST = ["--min-time", "0", "--warmup", "0", "--threads", "1", "--json", "--device", "cpu"]


def test_fuse_is_the_default_and_no_fuse_turns_it_off(tmp_path) -> None:
    spec = str(SPECS / "s.yaml")
    on = runner.invoke(app, ["bench", spec, "64", *FAST, "--out", str(tmp_path / "a")])
    off = runner.invoke(
        app, ["bench", spec, "64", *FAST, "--no-fuse", "--out", str(tmp_path / "b")]
    )
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    first = [json.loads(line) for line in on.stdout.splitlines() if line.startswith("{")]
    second = [json.loads(line) for line in off.stdout.splitlines() if line.startswith("{")]
    assert first[0]["fuse"] is True and second[0]["fuse"] is False
    assert first[0]["macs"] == second[0]["macs"]  # folding changes the time, not the count
