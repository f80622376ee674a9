"""Every Optuna storage and study call of the search, through Optuna's public API only.

- default: Optuna's journal file storage ``<run>/study.journal`` (append-only, a file lock per
  write: crash-safe, and safe for several local worker processes). ``optuna-dashboard
  <run>/study.journal`` opens it.
- ``sqlite:///FILE``: one process.
- ``postgresql://...``: one study shared by processes on many machines (each with its own
  ``--out``); trials of dead workers are failed by Optuna's heartbeat (a worker silent for
  ``GRACE_BEATS`` heartbeats) and re-run (``RetryHeartbeatStaleTrialCallback``).

Constraints: one value per bound plus validity, <= 0 feasible. The sampler's in-memory trials carry
them as ``Trial.set_constraint`` writes them (one system attribute per name); the stored study
carries them as one list under the system attribute ``constraints``, the form both Optuna
(``FrozenTrial.constraints``, ``study.best_trials``) and optuna-dashboard (per-trial
``constraints``, its feasible / infeasible marking and Pareto-front plot) read. The names of the
list's positions are the study user attribute :data:`CONSTRAINT_NAMES`.

Writes of a single worker go to the journal in batches (:func:`add_trials`): one file lock and one
``fsync`` per batch instead of per trial, through Optuna's public journal backend interface.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import optuna
from optuna.storages.journal import BaseJournalBackend as JournalBackend
from optuna.trial import FrozenTrial, TrialState

from hirisearch.errors import HirisearchError
from hirisearch.ops.search.types import SearchError, SearchSpace

ATTR = "hirisearch"  # user attribute holding a trial's evaluation (one storage write)
SURPLUS = "hirisearch:surplus"  # user attribute of a trial asked beyond the requested count
FINGERPRINT = "hirisearch:space"  # study user attribute: the space the study was made from
CONSTRAINT_NAMES = "hirisearch:constraints"  # study user attribute: names of the list positions
#: The system attribute Optuna's list form of constraints lives under (read by Optuna and by
#: optuna-dashboard, which reads no other form).
CONSTRAINTS_KEY = "constraints"
JOURNAL = "study.journal"
#: Heartbeat interval (seconds) of workers on a shared database (``--heartbeat``) ...
HEARTBEAT_S = 10
#: ... and after how many missed heartbeats a trial is failed and re-run (an outage of the
#: database shorter than this keeps every running trial).
GRACE_BEATS = 6

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _NoInterruptTraceback(logging.Filter):
    """Drop Optuna's "Trial N failed ... KeyboardInterrupt" warning with its traceback: Ctrl-C
    inside a trial is reported by the command as one line (a real error propagates anyway)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt))


for _handler in logging.getLogger("optuna").handlers:
    _handler.addFilter(_NoInterruptTraceback())


def storage_url(out: Path, storage: str | None, workers: int) -> str:
    """The storage a run uses, refusing unsafe combinations."""
    if storage is None:
        return f"journal:{out / JOURNAL}"
    if storage.startswith("sqlite") and workers > 1:
        raise SearchError(
            "--storage sqlite with --workers > 1 is refused: SQLite locks the whole database on "
            "every write, so parallel workers fail with 'database is locked' or lose time "
            "retrying; leave --storage unset to use the journal file storage, or use "
            "--storage postgresql://..."
        )
    if not storage.startswith(("sqlite:", "postgresql", "mysql", "journal:")):
        raise SearchError(
            f"--storage must be sqlite:///FILE, postgresql://..., or journal:FILE, but got "
            f"{storage!r}"
        )
    return storage


def is_local(url: str) -> bool:
    """Whether only processes of this machine can reach the storage (no heartbeat needed)."""
    return url.startswith(("sqlite", "journal:"))


def _pg_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only it is there."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def open_storage(url: str, *, heartbeat_s: int | None = None) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; errors are one line. A shared database gets a heartbeat
    every ``heartbeat_s`` seconds (default :data:`HEARTBEAT_S`)."""
    url = _pg_driver(url)
    try:
        if url.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            return JournalStorage(BatchingBackend(JournalFileBackend(url[len("journal:") :])))
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
        else:
            beat = heartbeat_s or HEARTBEAT_S
            kwargs.update(
                heartbeat_interval=beat,
                grace_period=GRACE_BEATS * beat,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(),
                engine_kwargs={"pool_pre_ping": True},  # reconnect after a server restart
            )
        return optuna.storages.RDBStorage(url, **kwargs)
    except HirisearchError:
        raise
    except Exception as e:  # noqa: BLE001 - driver errors vary; one line with the cause
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SearchError(f"cannot open storage {redact(url)}: {msg}") from None


def redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def fingerprint(space: SearchSpace) -> str:
    doc = {
        "base": space.base,
        "axes": [asdict(a) for a in space.axes],
        "budgets": [_budget(b) for b in space.budgets],
        "objectives": [asdict(o) for o in space.objectives],
        "strategy": space.strategy,
        "device": space.device,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _budget(b: Any) -> dict[str, Any]:
    """A budget as the fingerprint holds it (no ``confidence`` key unless one is set, so that a
    study of a space without one keeps its fingerprint)."""
    doc = asdict(b)
    if doc.get("confidence") is None:
        doc.pop("confidence", None)
    return doc


def constraint_names(space: SearchSpace) -> list[str]:
    """The names of a trial's constraints, in order: validity, then one per bound."""
    from hirisearch.ops.search.budget import bound_labels

    return ["valid", *bound_labels(space.budgets)]


def open_study(
    space: SearchSpace,
    storage: optuna.storages.BaseStorage,
    name: str,
    sampler: optuna.samplers.BaseSampler | None = None,
) -> optuna.Study:
    """Create or load ``name``; a study made from a different space is refused."""
    directions = [o.direction for o in space.objectives]
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            directions=directions,
            load_if_exists=True,
            sampler=sampler,
        )
    except ValueError as e:
        raise SearchError(f"study {name!r}: {e}") from None
    fp = fingerprint(space)
    have = study.user_attrs.get(FINGERPRINT)
    if have is None:
        study.set_user_attr(FINGERPRINT, fp)
        study.set_user_attr(CONSTRAINT_NAMES, constraint_names(space))
    elif have != fp:
        raise SearchError(
            f"study {name!r} was made from a different search space (axes, budgets, objectives or "
            f"strategy changed); use another --study or --out"
        )
    if [d.name.lower() for d in study.directions] != directions:
        raise SearchError(f"study {name!r} has different objective directions")
    return study


def load_study(
    name: str, storage: optuna.storages.BaseStorage, sampler: Any = None, pruner: Any = None
) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)


def in_memory_study(
    space: SearchSpace, sampler: optuna.samplers.BaseSampler, pruner: Any = None
) -> optuna.Study:
    return optuna.create_study(
        storage=optuna.storages.InMemoryStorage(),
        sampler=sampler,
        pruner=pruner,
        directions=[o.direction for o in space.objectives],
    )


def fail_running(study: optuna.Study) -> int:
    """Mark every RUNNING trial FAIL (only when no live process can own one). Returns how many."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        try:
            study.tell(t.number, state=TrialState.FAIL)
            n += 1
        except (ValueError, RuntimeError):  # a racing worker finished it first
            pass
    return n


def count(study: optuna.Study, *states: TrialState) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def trials(study: optuna.Study, *states: TrialState) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=states or None)


def _with_system_attrs(trial: FrozenTrial, system_attrs: dict[str, Any]) -> FrozenTrial:
    """A copy of ``trial`` with other system attributes (``trial_id`` is not stored: the storage
    numbers the trial it adds)."""
    return FrozenTrial(
        number=trial.number,
        state=trial.state,
        value=None,
        values=trial.values,
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
        params=trial.params,
        distributions=trial.distributions,
        user_attrs=trial.user_attrs,
        system_attrs=system_attrs,
        intermediate_values=trial.intermediate_values,
        trial_id=trial.number,
    )


def listed_constraints(trial: FrozenTrial) -> FrozenTrial:
    """``trial`` with its named constraints (``Trial.set_constraint``) as one list under
    :data:`CONSTRAINTS_KEY`, in the order they were set."""
    prefix = CONSTRAINTS_KEY + ":"
    named = trial.constraints
    attrs = {k: v for k, v in trial.system_attrs.items() if not k.startswith(prefix)}
    attrs[CONSTRAINTS_KEY] = list(named.values())
    return _with_system_attrs(trial, attrs)


def named_constraints(trial: FrozenTrial, names: Sequence[str]) -> FrozenTrial:
    """A stored trial as the sampler's in-memory trials are: one ``constraints:NAME`` each."""
    values = trial.system_attrs.get(CONSTRAINTS_KEY)
    if values is None:
        return trial
    attrs = {k: v for k, v in trial.system_attrs.items() if k != CONSTRAINTS_KEY}
    attrs.update({f"{CONSTRAINTS_KEY}:{n}": v for n, v in zip(names, values, strict=True)})
    return _with_system_attrs(trial, attrs)


def flush_held() -> None:
    """Write any logs a batch interrupted before its end left held (see :class:`BatchingBackend`)."""
    BatchingBackend.flush_all()


def add_trials(study: optuna.Study, finished: Sequence[FrozenTrial]) -> None:
    """Record finished trials (values, params, attributes and constraints) in ``study``; on a
    journal file, in one write (the caller is the only process writing this study)."""
    with BatchingBackend.hold():
        study.add_trials([listed_constraints(t) for t in finished])


def sampler_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The COMPLETE trials of a stored study as the sampler's own trials carry them (named
    constraints), so a resumed sampler sees one form (the GP sampler needs one set of names)."""
    names = study.user_attrs.get(CONSTRAINT_NAMES)
    done = trials(study, TrialState.COMPLETE)
    return [named_constraints(t, names) for t in done] if names else done


def constraints_of(study: optuna.Study, trial: FrozenTrial) -> dict[str, float]:
    """A stored trial's constraints by name (<= 0 feasible)."""
    values = list(trial.constraints.values())
    names = study.user_attrs.get(CONSTRAINT_NAMES) or [str(i) for i in range(len(values))]
    return dict(zip(names, values, strict=True))


def set_constraints(trial: optuna.Trial, constraints: dict[str, float]) -> None:
    for key, value in constraints.items():
        trial.set_constraint(key, value)


def counts(trial: FrozenTrial) -> bool:
    """Whether a trial counts towards the requested number: COMPLETE, or PRUNED by the pruner
    (a surplus trial is PRUNED too, but is not one)."""
    return trial.state == TrialState.COMPLETE or (
        trial.state == TrialState.PRUNED and not trial.user_attrs.get(SURPLUS)
    )


def finished(study: optuna.Study) -> list[FrozenTrial]:
    """The trials that count towards the requested number (see :func:`counts`)."""
    return [t for t in study.get_trials(deepcopy=False, states=_FINISHED) if counts(t)]


_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def complete_or_running_before(study: optuna.Study, number: int) -> int:
    live = study.get_trials(deepcopy=False, states=(*_FINISHED, TrialState.RUNNING))
    return sum(
        1 for t in live if t.number < number and (t.state == TrialState.RUNNING or counts(t))
    )


def heartbeat_of(storage: optuna.storages.BaseStorage) -> int | None:
    """The heartbeat interval (seconds) of a storage, None when it has none."""
    if isinstance(storage, optuna.storages.RDBStorage):
        return storage.get_heartbeat_interval()
    return None


def fail_stale(study: optuna.Study) -> None:
    """Fail (and queue again) the trials whose worker stopped beating (Optuna's heartbeat)."""
    import warnings

    with warnings.catch_warnings():  # ``fail_stale_trials`` is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def beat(storage: optuna.storages.BaseStorage, study_name: str, number: int) -> Any:
    """A function recording one heartbeat of trial ``number`` (kept through database outages by
    :class:`hirisearch.ops.search.retry.Heartbeat`, where Optuna's own heartbeat thread stops)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        raise TypeError("only a database storage has a heartbeat")
    study_id = storage.get_study_id_from_name(study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    return lambda: storage.record_heartbeat(trial_id)


def has_study(url: str) -> bool:
    """Whether a local storage file of ``url`` exists (a run to resume)."""
    if url.startswith("journal:"):
        return Path(url[len("journal:") :]).exists()
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :]).exists()
    return False


class BatchingBackend(JournalBackend):
    """A journal backend that forwards to a :class:`JournalFileBackend`, holding the logs appended
    inside :meth:`hold` and writing them at its end in one ``append_logs`` call (one lock, one
    ``fsync``). Reads see the held logs, so the storage stays consistent meanwhile.

    Holding assumes no other process appends to the file meanwhile: it is used by the single
    worker of a run folder (held exclusively), never by shared-storage workers.
    """

    _holding = False
    _held_by: ClassVar[list[BatchingBackend]] = []

    def __init__(self, inner: JournalBackend) -> None:
        self._inner = inner
        self._in_file: int | None = None  # logs in the file, as of the storage's last read
        self._held: list[dict[str, Any]] = []

    def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
        if not self._held:
            logs = list(self._inner.read_logs(log_number_from))
            self._in_file = log_number_from + len(logs)
            return logs
        in_file = self._in_file or 0
        logs = list(self._inner.read_logs(log_number_from)) if log_number_from < in_file else []
        return logs + self._held[max(0, log_number_from - in_file) :]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if not BatchingBackend._holding or self._in_file is None:
            self._inner.append_logs(logs)
            return
        if self not in BatchingBackend._held_by:
            BatchingBackend._held_by.append(self)
        self._held.extend(logs)

    def flush(self) -> None:
        if self._held:
            self._inner.append_logs(self._held)
            self._in_file = (self._in_file or 0) + len(self._held)
            self._held = []

    @classmethod
    @contextmanager
    def hold(cls) -> Iterator[None]:
        """Hold the appended logs of every batching backend until the block ends."""
        if cls._holding:
            yield
            return
        cls._holding = True
        try:
            yield
        finally:
            cls._holding = False
            cls.flush_all()

    @classmethod
    def flush_all(cls) -> None:
        """Write every backend's held logs. A backend leaves the list only once written, so an
        interrupt (Ctrl-C) in the middle leaves the rest for the next call, never unwritten and
        forgotten while reads still see them."""
        while cls._held_by:
            cls._held_by[0].flush()
            cls._held_by.pop(0)
