"""Ctrl-C: SIGINT to a long-running command ends it with one line and exit code 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from hirisearch.cli import EXIT_INTERRUPTED
from tests.conftest import SPECS

ROOT = Path(__file__).resolve().parents[2]


def _in_command_body(pid: int) -> bool:
    """True once the process has loaded torch, which the CLI imports only inside a command."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_sigint_during_a_long_profile_is_one_line_and_130(tmp_path: Path) -> None:
    d = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())
    d["depths"] = [2, 3, 4, 2_000, 3]  # a traced count of minutes with the limit lifted
    spec = tmp_path / "deep.yaml"
    spec.write_text(yaml.safe_dump(d))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hirisearch", "profile", str(spec), "--trace-limit", "0"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _in_command_body(proc.pid):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    time.sleep(1.0)  # well inside the build / traced count
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED == 130, err
    assert err.strip().splitlines() == ["hirisearch: interrupted"], err
    assert "Traceback" not in out + err
