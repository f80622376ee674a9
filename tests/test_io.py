"""Interrupted writes and exclusive run folders, with real processes killed mid-write."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hirisearch.io import RunDir, RunDirBusyError

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

WRITER = """
import sys
from hirisearch.io import atomic_write_json
path = sys.argv[1]
rows = [{"trial": i, "params": i * 7, "macs": i * 1_000_003, "name": "x" * 40} for i in range(60_000)]
i = 0
while True:
    atomic_write_json(path, {"version": i, "rows": rows, "n": len(rows), "end": True})
    i += 1
    print(i, flush=True)
"""

HOLDER = """
import sys, time
from hirisearch.io import RunDir
with RunDir(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _start(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=ENV, stdout=subprocess.PIPE, text=True
    )


def test_sigkill_mid_write_never_leaves_a_truncated_file(tmp_path: Path) -> None:
    """A writer rewriting a ~5 MB results.json is SIGKILLed at random moments (several while a
    write is in flight, since writing is nearly all it does); the file is always complete JSON."""
    path = tmp_path / "results.json"
    rng = random.Random(8)
    versions = []
    for _ in range(6):
        proc = _start(WRITER, str(path))
        assert proc.stdout is not None
        proc.stdout.readline()  # one complete write has landed
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        doc = json.loads(path.read_text())  # raises on a truncated file
        assert doc["end"] is True and doc["n"] == len(doc["rows"]) == 60_000
        assert doc["rows"][-1]["trial"] == 59_999
        versions.append(doc["version"])
    assert len(versions) == 6
    # only complete files carry the final name; interrupted temporaries are hidden dot-files
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["results.json"]


def test_run_dir_refuses_a_second_process_and_frees_on_kill(tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = _start(HOLDER, str(out))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirBusyError) as exc:
            with RunDir(out):
                pass
        msg = exc.value.one_line()
        assert str(out) in msg and "another hirisearch run is writing to this folder" in msg
        assert exc.value.exit_code == 3
        second = subprocess.run(
            [sys.executable, "-c", HOLDER, str(out)], env=ENV, capture_output=True, text=True
        )
        assert second.returncode != 0 and "RunDirBusyError" in second.stderr
        assert (out / RunDir.LOCK).read_text() == str(holder.pid)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with RunDir(out) as run:  # the kernel dropped the dead holder's lock
        assert run.path == out
