"""Fixtures of the search tests: small spaces on the shipped S spec, and a real PostgreSQL server."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest
import yaml

from tests.conftest import with_sigint

ROOT = Path(__file__).resolve().parents[2]
S_SPEC = ROOT / "specs" / "hiri_vit" / "s.yaml"

#: A small space on HIRI-ViT-S at 128 px: 6 * 2 * 2 * 2 = 48 configurations, traced counts fast.
SMALL = {
    "base": str(S_SPEC),
    "img_size": 128,
    "axes": {
        "depths.3": {"low": 1, "high": 6},
        "dims.3": {"choices": [256, 320]},
        "num_heads.3": {"choices": [8, 10]},
        "mlp_ratios.2": {"choices": [4, 8]},
    },
    "budgets": {"gmacs": {"max": 0.26}},
    "objectives": [{"minimize": "params"}, {"minimize": "gmacs"}],
    "strategy": "random",
    "trials": 12,
    "seed": 0,
}


def write_space(tmp: Path, name: str = "space.yaml", **changes: object) -> Path:
    doc = {**SMALL, **changes}
    path = tmp / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hirisearch", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=timeout,
    )


def popen(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    return subprocess.Popen(
        with_sigint([sys.executable, "-m", "hirisearch", *args]),  # ctrl-c tests signal it
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or ROOT,
        env=env,
    )


# ------------------------------------------------------------------------------ PostgreSQL
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A throw-away PostgreSQL server in a temporary folder on a free local port.

    PostgreSQL refuses to run as root, so as root the server runs as ``nobody`` (``runuser``).
    ``stop()`` and ``start()`` restart it on the same port and data (the fault tests).
    """

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            pytest.skip(
                "PostgreSQL server binaries (initdb, pg_ctl) not found; apt install postgresql"
            )
        self.as_user: list[str] = []
        if os.getuid() == 0:
            runuser = shutil.which("runuser")
            if not runuser:
                pytest.skip("running as root without runuser: cannot start PostgreSQL as non-root")
            self.as_user = [runuser, "-u", "nobody", "--"]
        self.pg_ctl = pg_ctl
        self.tmp = Path(tempfile.mkdtemp(prefix="hirisearch-pg-"))
        self.tmp.chmod(0o777)
        self.data = self.tmp / "data"
        self.port = free_port()
        subprocess.run(
            [*self.as_user, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def start(self) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), "-l", str(self.tmp / "log"), "-w",
             "-o", f"-h 127.0.0.1 -p {self.port} -k {self.tmp} -c max_connections=200", "start"],
            check=True,
            capture_output=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``fast`` ends every client connection, as a restart does."""
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"],
            check=True,
            capture_output=True,
        )

    def remove(self) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        time.sleep(0.2)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL server shared by the tests of a session."""
    server = PostgresServer()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of one test's own, which the test may stop and start."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.remove()


# ------------------------------------------------------------------------------ Ctrl-C, placed
@contextmanager
def sigint_at_line(k: int, arm: Callable[[CodeType], bool], nth: int = 1) -> Iterator[list[str]]:
    """SIGINT to this process just before the ``k``-th line that runs inside the ``nth`` call of a
    function whose code ``arm`` accepts (lines of what it calls included), sent by a trace
    function: the same moment in every run, where a real Ctrl-C lands by chance. Yields a list
    that names the line once the signal was sent (empty: the call ran fewer than ``k`` lines)."""
    landed: list[str] = []
    calls, lines = [0], [0]
    window: list[FrameType] = []  # the frame of the armed call while it runs

    def local(frame: FrameType, event: str, _arg: object) -> Any:
        if event == "line" and window and not landed:
            lines[0] += 1
            if lines[0] == k:
                code = frame.f_code
                landed.append(f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}")
                signal.raise_signal(signal.SIGINT)
        elif event == "return" and window and frame is window[0]:
            window.clear()
        return local

    def on_call(frame: FrameType, _event: str, _arg: object) -> Any:
        if window:
            return local
        if not landed and calls[0] < nth and arm(frame.f_code):
            calls[0] += 1
            if calls[0] == nth:
                window.append(frame)
                return local
        return None

    # Python's own handling, as a user's process has it (a suite run as a background job of a
    # non-interactive shell starts with SIGINT ignored); no garbage-collector callbacks (the
    # hypothesis plugin's): an exception raised in one is reported as unraisable and dropped
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    callbacks = gc.callbacks[:]
    gc.callbacks.clear()
    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield landed
    finally:
        sys.settrace(previous)
        gc.callbacks.extend(callbacks)
        signal.signal(signal.SIGINT, handler)


# ------------------------------------------------------------------------------ counts
#: Totals the search tests report at the end of the run (property-based cases, crash counts).
COUNTS: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest hook
    if COUNTS:
        terminalreporter.write_sep("-", "search robustness counts")
        for key, value in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{key}: {value}")
