"""The code stays lint-clean and type-clean: ruff and mypy run as part of the suite (and so in CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_and_format() -> None:
    lint = _run("ruff", "check", "hirisearch", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", "hirisearch", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_finds_no_errors() -> None:
    typed = _run("mypy", "hirisearch")
    assert typed.returncode == 0, typed.stdout[-3000:] + typed.stderr[-1000:]
    assert "Success: no issues found" in typed.stdout
