"""Running generated hostile inputs through the real CLI entry point, and counting them.

Every property-based test calls :func:`run_cli`, which runs ``hirisearch.cli.main(argv)`` in this
process with stdout and stderr captured, and :func:`assert_refused`, which checks the contract for
bad input: a non-zero exit code that is not the internal-error code, exactly one line on stderr,
no traceback. The counts are printed in pytest's terminal summary (see ``tests/conftest.py``).
"""

from __future__ import annotations

import io
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from hypothesis import HealthCheck, settings

from hirisearch.cli import EXIT_INTERNAL, main

#: Generated inputs run through the CLI, by kind ("malformed ..." must be refused).
COUNTS: Counter[str] = Counter()
#: Tracebacks seen in any captured output (the tests also fail on them).
TRACEBACKS: list[str] = []

#: Deterministic, database-free hypothesis settings: CI runs the same examples every time.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


def run_cli(argv: list[str], kind: str) -> CliRun:
    """``hirisearch.cli.main(argv)`` with captured output; counted under ``kind``."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    COUNTS[kind] += 1
    run = CliRun(code, out.getvalue(), err.getvalue())
    if "Traceback" in run.out + run.err:
        TRACEBACKS.append(" ".join(argv))
    return run


def assert_refused(run: CliRun, *must_name: str) -> str:
    """The bad-input contract; returns the one error line. ``must_name``: substrings (the file, the
    field, the option) the line has to contain."""
    lines = run.err.strip().splitlines()
    assert run.code != 0, f"accepted: {run.out[:300]!r}"
    assert run.code != EXIT_INTERNAL, run.err
    assert "Traceback" not in run.out + run.err, run.err
    assert len(lines) == 1, run.err
    line = lines[0]
    assert line.startswith(("hirisearch: error: ", "hirisearch: usage error: ")), line
    for word in must_name:
        assert word in line, f"{word!r} not in {line!r}"
    return line


def assert_clean(run: CliRun) -> None:
    """For inputs that may be valid: success, or the bad-input contract; never an internal error."""
    if run.code != 0:
        assert_refused(run)
    assert "Traceback" not in run.out + run.err, run.err


def summary() -> str:
    malformed = sum(v for k, v in COUNTS.items() if k.startswith("malformed"))
    other = sum(COUNTS.values()) - malformed
    parts = ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()))
    verdict = "OK" if malformed >= 1000 else "FEWER THAN 1,000"
    return (
        f"hardening: {malformed} generated malformed inputs ({verdict}) and {other} other hostile "
        f"inputs run through hirisearch.cli.main; tracebacks seen: {len(TRACEBACKS)} [{parts}]"
    )
