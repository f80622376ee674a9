"""Ctrl-C for the command line: one line, exit code 130, every time.

Python's own SIGINT handling raises ``KeyboardInterrupt`` wherever the main thread happens to be.
That is not enough for a tool built on torch: an interrupt that lands in library code guarded by
``except BaseException`` (lazy imports, dispatch fallbacks) is swallowed and the command runs on
for minutes; one that surfaces through some C paths makes the interpreter end by re-raising
SIGINT on itself (exit status -2) after our message was printed; one that lands while modules
are imported escapes as a traceback. :func:`install` (called by the console entry point only;
importing this module changes nothing) makes the outcome deterministic:

* before and after a command body runs (imports, start-up, shutdown) a SIGINT ends the process
  at once: one line, status 130;
* inside a command body the first SIGINT raises ``KeyboardInterrupt``; code that handles it calls
  :func:`handled`. If nobody does within :data:`GRACE_S` seconds, the interrupt was swallowed and
  the process ends anyway. Commands that save their work on an interrupt (search, bench) call
  :func:`saves_on_interrupt` first: their clean-up (a storage write under load) may take longer
  than the grace period, so no watchdog cuts it short;
* a second SIGINT always ends the process at once.

Inside a :func:`deferred` block (a write that must not be cut in half) the ``KeyboardInterrupt``
waits for the block's end, under this handler and under Python's own alike.

The library never depends on the handler: :func:`requested` is simply False without it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130
LINE = "hirisearch: interrupted"
#: Seconds an unhandled interrupt may take to reach a handler before the process is ended.
GRACE_S = 3.0

_in_body = 0
_watchdog_armed = True  # False while a body that saves on interrupt runs
_requested = False
_reported = False
_watchdog: Any = None  # a threading.Timer once armed
_deferring = 0  # depth of the deferred() blocks the main thread is in
_owed = False  # a SIGINT arrived in one: its KeyboardInterrupt is raised as the block ends


def install() -> None:
    """Take over SIGINT for this process (console entry point only), whatever disposition it
    inherited: a background job of a non-interactive shell starts with SIGINT ignored, and the
    command line's contract (one line, 130) holds there as well."""
    try:
        signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: leave Python's default handling
        pass


def requested() -> bool:
    """True once SIGINT arrived in a process that :func:`install`-ed the handler."""
    return _requested


def report(line: str = LINE, *, once: bool = False) -> None:
    """Print the interrupt line on stderr (with ``once``: unless one was printed already)."""
    global _reported
    if once and _reported:
        return
    _reported = True
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def handled() -> None:
    """The ``KeyboardInterrupt`` reached code that handles it: no forced exit."""
    global _watchdog
    if _watchdog is not None:
        _watchdog.cancel()
        _watchdog = None


def saves_on_interrupt() -> None:
    """The running command catches ``KeyboardInterrupt`` and saves its work: no forced exit
    after the first SIGINT (a second one still exits at once)."""
    global _watchdog_armed
    _watchdog_armed = False


class body:
    """Context manager around a command body: inside it, SIGINT raises ``KeyboardInterrupt``."""

    def __enter__(self) -> None:
        global _in_body, _watchdog_armed
        _in_body += 1
        _watchdog_armed = True

    def __exit__(self, *exc: object) -> None:
        global _in_body
        _in_body -= 1


def finish(code: int) -> int:
    """``code``, the status to end the process with; or, if SIGINT arrived, the interrupt line
    and the end of the process now, with 130."""
    if _requested:
        report(once=True)
        _hard_exit()
    return code


@contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C waits for the block: the ``KeyboardInterrupt`` of a SIGINT that arrives inside it
    is raised as the (outermost) block ends, unless the block raises an error of its own.

    For work that an exception raised at an arbitrary line would leave half done, such as a
    storage write: Optuna's journal storage counts a log as read before it applies it, so an
    interrupt in between leaves the process's copy of the study short of a trial the file holds.
    A second SIGINT is not held: under :func:`install`'s handler it ends the process at once,
    under Python's own it raises. Outside the main thread (where no ``KeyboardInterrupt`` is
    raised) and under a handler of the caller's own, the block changes nothing.
    """
    global _deferring, _owed
    import threading  # imported late: install() must run as early as possible

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    depth = _deferring  # restored as it was, wherever in this function an interrupt lands
    try:
        _deferring = depth + 1
        if not depth:
            _owed = False  # one left by a second SIGINT that cut the last block short
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, _hold)  # Python's own handling: held for the block
        yield
    finally:
        _deferring = depth
        owed = False
        if not depth:
            if signal.getsignal(signal.SIGINT) is _hold:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            owed, _owed = _owed, False
    if owed:
        raise KeyboardInterrupt


def cut_short(error: BaseException) -> bool:
    """Whether ``error`` is a ``KeyboardInterrupt`` or was raised while one was propagating (a
    library that turns a Ctrl-C into another error: Optuna's trial loop raises
    ``UnboundLocalError`` when the interrupt lands as it records a finished trial)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__context__
    return False


def _hold(signum: int, frame: FrameType | None) -> None:
    """Python's own SIGINT handling inside a :func:`deferred` block."""
    global _owed
    if _owed:
        raise KeyboardInterrupt
    _owed = True


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _requested, _watchdog, _owed
    if _requested or not _in_body:
        _requested = True
        report(once=True)
        _hard_exit()
    _requested = True
    if _watchdog_armed:
        import threading  # imported late: install() must run as early as possible

        _watchdog = threading.Timer(GRACE_S, _swallowed)
        _watchdog.daemon = True
        _watchdog.start()
    if _deferring:
        _owed = True
        return
    raise KeyboardInterrupt


def _swallowed() -> None:
    report(once=True)
    os._exit(EXIT_INTERRUPTED)


def _hard_exit() -> None:
    """Exit now with 130 (no interpreter finalisation, which could re-raise SIGINT on us)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(EXIT_INTERRUPTED)
