"""Ctrl-C: SIGINT at any moment of a command ends it with one line and exit code 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from hirisearch import interrupt
from hirisearch.cli import EXIT_INTERRUPTED
from tests.conftest import SPECS, with_sigint

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _has_loaded(pid: int, library: str) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _deep_spec(tmp_path: Path) -> Path:
    d = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())
    d["depths"] = [2, 3, 4, 5_000, 3]  # build + traced count take ~15 s with the limit lifted
    spec = tmp_path / "deep.yaml"
    spec.write_text(yaml.safe_dump(d))
    return spec


def _assert_interrupted(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED == 130, err
    assert err.strip().splitlines() == ["hirisearch: interrupted"], err
    assert "Traceback" not in out + err


# Where the SIGINT lands: while the CLI's modules are imported (pydantic's core is loaded, torch is
# not yet: the entry point's handler is in place), just as torch has loaded, and well inside the
# model build / traced count. (A SIGINT within the interpreter's own first ~30 ms, before any
# hirisearch code runs, is Python's to handle.)
@pytest.mark.parametrize(
    "moment,library,wait_s",
    [("start-up", "_pydantic_core", 0.0), ("torch loaded", "libtorch", 0.0),
     ("counting", "libtorch", 1.5)],
)  # fmt: skip
def test_sigint_at_any_moment_is_one_line_and_130(
    tmp_path: Path, moment: str, library: str, wait_s: float
) -> None:
    spec = _deep_spec(tmp_path)
    argv = [sys.executable, "-m", "hirisearch", "profile", str(spec), "--trace-limit", "0"]
    proc = subprocess.Popen(with_sigint(argv), cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not _has_loaded(proc.pid, library):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    time.sleep(wait_s)
    proc.send_signal(signal.SIGINT)
    _assert_interrupted(proc)


def test_an_interrupt_swallowed_by_library_code_still_ends_the_process(tmp_path: Path) -> None:
    # Library code that catches BaseException (lazy imports, dispatch fallbacks) eats the
    # KeyboardInterrupt; the watchdog ends the process GRACE_S seconds later all the same.
    script = tmp_path / "swallow.py"
    script.write_text(
        textwrap.dedent("""
        import sys, time
        from hirisearch import interrupt
        interrupt.install()
        with interrupt.body():
            ready = False
            while True:
                try:  # "ready" is printed inside the try: the signal may land in print
                    if not ready:
                        ready = True
                        print("ready", flush=True)
                    time.sleep(0.01)
                except BaseException:
                    pass
    """)
    )
    proc = subprocess.Popen(with_sigint([sys.executable, str(script)]), cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _assert_interrupted(proc)
    assert interrupt.GRACE_S <= time.monotonic() - start < interrupt.GRACE_S + 30


def test_a_handled_interrupt_lets_the_command_save_and_finish(tmp_path: Path) -> None:
    # search and bench declare that they save on an interrupt, catch the KeyboardInterrupt and
    # save what they have (a storage write may take longer than the grace period under load):
    # no watchdog cuts that short, and their own line replaces the default one.
    script = tmp_path / "handled.py"
    script.write_text(
        textwrap.dedent(f"""
        import time
        from hirisearch import interrupt
        interrupt.install()
        try:
            with interrupt.body():
                interrupt.saves_on_interrupt()
                print("ready", flush=True)
                time.sleep(60)
        except KeyboardInterrupt:
            time.sleep({interrupt.GRACE_S} + 1)  # saving takes longer than the grace period
            interrupt.report("hirisearch: interrupted; 3 results saved")
        interrupt.finish(0)
    """)
    )
    proc = subprocess.Popen(with_sigint([sys.executable, str(script)]), cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines() == ["hirisearch: interrupted; 3 results saved"], err


def test_without_install_nothing_changes() -> None:
    # A library user's process keeps Python's own SIGINT handling: importing the library, its
    # command layer and the interrupt module installs nothing. (Checked in a fresh interpreter
    # started as a user starts one, not in this one, whose disposition is inherited.)
    code = textwrap.dedent("""
        import signal
        before = signal.getsignal(signal.SIGINT)
        import hirisearch, hirisearch.cli
        from hirisearch import interrupt
        after = signal.getsignal(signal.SIGINT)
        print(before is after is signal.default_int_handler, interrupt.requested())
    """)
    out = subprocess.run(with_sigint([sys.executable, "-c", code]), env=ENV, capture_output=True,
                         text=True, check=True, timeout=120)  # fmt: skip
    assert out.stdout.split() == ["True", "False"], out.stderr


def _sigint_disposition(argv: list[str]) -> str:
    code = "import signal; print(signal.getsignal(signal.SIGINT))"
    out = subprocess.run([*argv, sys.executable, "-c", code], env=ENV, capture_output=True,
                         text=True, check=True, timeout=60)  # fmt: skip
    return out.stdout.strip()


def test_subprocesses_of_the_tests_start_with_sigint_at_its_default() -> None:
    # As when the suite runs as a background job of a non-interactive shell: SIGINT ignored here.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        inherited = _sigint_disposition([])
        reset = _sigint_disposition(with_sigint([]))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert inherited == str(signal.SIG_IGN)  # an ignored disposition survives exec...
    assert reset == str(signal.default_int_handler)  # ...unless reset in the child


def test_the_command_line_takes_over_sigint_even_when_started_with_it_ignored(
    tmp_path: Path,
) -> None:
    # A background job of a non-interactive shell starts with SIGINT ignored; the console entry
    # point installs its own handling all the same, so a SIGINT still ends it with one line, 130
    # (ignored, it would run the ~15 s count to the end and exit 0).
    argv = [sys.executable, "-m", "hirisearch", "profile", str(_deep_spec(tmp_path)),
            "--trace-limit", "0"]  # fmt: skip
    proc = subprocess.Popen(with_sigint(argv, "SIG_IGN"), cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not _has_loaded(proc.pid, "_pydantic_core"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _assert_interrupted(proc)


@pytest.mark.parametrize("signals", [1, 2])
def test_a_deferred_block_runs_to_its_end_before_the_interrupt(
    tmp_path: Path, signals: int
) -> None:
    # A write that must not be cut in half (a search's batch of trials) runs in a deferred block:
    # the first SIGINT raises KeyboardInterrupt once the block has ended; a second one ends the
    # process at once, as everywhere.
    script = tmp_path / "deferred.py"
    script.write_text(
        textwrap.dedent("""
        import time
        from hirisearch import interrupt
        interrupt.install()
        try:
            with interrupt.body():
                interrupt.saves_on_interrupt()
                with interrupt.deferred():
                    print("ready", flush=True)
                    time.sleep(2)
                    print("written", flush=True)
                print("went on", flush=True)
        except KeyboardInterrupt:
            interrupt.handled()
            interrupt.report("hirisearch: interrupted; saved")
        interrupt.finish(0)
    """)
    )
    proc = subprocess.Popen(with_sigint([sys.executable, str(script)]), cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for _ in range(signals):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    if signals == 1:
        assert (out, err) == ("written\n", "hirisearch: interrupted; saved\n")
    else:
        assert (out, err) == ("", "hirisearch: interrupted\n")
