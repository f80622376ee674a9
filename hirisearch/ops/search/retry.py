"""Storage calls that outlast a database outage: retried with exponential backoff.

A worker on a shared database (PostgreSQL) keeps its trial through a restart of the server: the
calls it makes while training (``report``, ``should_prune``) and the recording of its result wait
for the database to come back. One that stays unreachable longer than :data:`RETRY_S` stops the
worker with one line; the study keeps every finished trial and the same command with ``--resume``
carries on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hirisearch.ops.search.types import SearchError

T = TypeVar("T")

#: How long (seconds) a worker waits for an unreachable database before it stops.
RETRY_S = 600.0
#: The first wait between attempts (seconds); it doubles up to :data:`BACKOFF_MAX_S`.
BACKOFF_S = 0.25
BACKOFF_MAX_S = 5.0


class StorageLostError(SearchError):
    """The database stayed unreachable for longer than :data:`RETRY_S`."""


def is_connection_error(error: BaseException) -> bool:
    """Whether ``error`` (or an exception it was raised from) is a lost database connection."""
    try:
        from sqlalchemy import exc
    except ImportError:  # pragma: no cover - Optuna depends on SQLAlchemy
        return False
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, StorageLostError):
            return False  # retried already: stop
        if isinstance(e, (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError)):
            return True
        if isinstance(e, exc.DBAPIError) and e.connection_invalidated:
            return True
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return False


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Backoff:
    """Waits between attempts at an unreachable database: doubling, capped, with a deadline."""

    def __init__(self, deadline_s: float | None = None) -> None:
        self.limit = RETRY_S if deadline_s is None else deadline_s
        self.start: float | None = None
        self.wait_s = BACKOFF_S

    def reset(self) -> None:
        self.start, self.wait_s = None, BACKOFF_S

    def sleep(self, error: BaseException, what: str) -> None:
        """Sleep before the next attempt, or raise :class:`StorageLostError` past the deadline."""
        now = time.monotonic()
        if self.start is None:
            self.start = now
        if now - self.start + self.wait_s > self.limit:
            raise StorageLostError(
                f"lost the connection to the storage while {what} and it did not come back "
                f"within {self.limit:g} s ({first_line(error)}); every finished trial is stored: "
                "run the same command with --resume to carry on"
            ) from None
        time.sleep(self.wait_s)
        self.wait_s = min(self.wait_s * 2, BACKOFF_MAX_S)


def retrying(call: Callable[[], T], *, what: str, deadline_s: float | None = None) -> T:
    """``call()``, retried with backoff while the database is unreachable.

    Raises:
        StorageLostError: still unreachable after ``deadline_s`` (default :data:`RETRY_S`).
    """
    backoff = Backoff(deadline_s)
    while True:
        try:
            return call()
        except Exception as e:
            if not is_connection_error(e):
                raise
            backoff.sleep(e, what)


class Heartbeat:
    """Records a running trial's heartbeat every ``interval_s`` seconds, through outages.

    Optuna's own heartbeat thread ends at the first failed write, so after a database restart a
    trial that is still running would look dead and be re-run; this one keeps trying, so a trial
    survives an outage shorter than the storage's grace period.
    """

    def __init__(self, beat: Callable[[], None], interval_s: float) -> None:
        import threading

        self._beat = beat
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hirisearch-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._beat()
            except Exception as e:  # noqa: BLE001 - a thread must not die of an outage
                if not is_connection_error(e):
                    return  # e.g. the trial was finished meanwhile: nothing left to keep alive
            self._stop.wait(self._interval)
