"""Every Optuna storage and study call of the search, through Optuna's public API only.

- default: Optuna's journal file storage ``<run>/study.journal`` (append-only, a file lock per
  write: crash-safe, and safe for several local worker processes). ``optuna-dashboard
  <run>/study.journal`` opens it.
- ``sqlite:///FILE``: one process.
- ``postgresql://...``: one study shared by processes on many machines (each with its own
  ``--out``); trials of dead workers are failed by Optuna's heartbeat (a worker silent for
  ``GRACE_BEATS`` heartbeats) and re-run (``RetryHeartbeatStaleTrialCallback``).

Constraints are recorded as Optuna records them (``Trial.set_constraint`` / ``create_trial(...,
constraints=...)``: one value per bound, <= 0 feasible), so ``study.best_trials`` and
optuna-dashboard show the constrained front.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hirisearch.errors import HirisearchError
from hirisearch.search.types import SearchError, SearchSpace

ATTR = "hirisearch"  # user attribute holding a trial's evaluation (one storage write)
SURPLUS = "hirisearch:surplus"  # user attribute of a trial asked beyond the requested count
FINGERPRINT = "hirisearch:space"  # study user attribute: the space the study was made from
JOURNAL = "study.journal"
#: Heartbeat interval (seconds) of workers on a shared database (``--heartbeat``) ...
HEARTBEAT_S = 10
#: ... and after how many missed heartbeats a trial is failed and re-run (an outage of the
#: database shorter than this keeps every running trial).
GRACE_BEATS = 6

# Optuna logs a failed trial (a Ctrl-C inside an objective too) as a warning with a traceback;
# hirisearch records each trial's error in results.json and prints one line, so only Optuna's
# errors reach the terminal.
optuna.logging.set_verbosity(optuna.logging.ERROR)


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

            return JournalStorage(JournalFileBackend(url[len("journal:") :]))
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
        "budgets": [asdict(b) for b in space.budgets],
        "objectives": [asdict(o) for o in space.objectives],
        "strategy": space.strategy,
        "device": space.device,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


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


def add_trials(study: optuna.Study, finished: Sequence[FrozenTrial]) -> None:
    """Record finished trials (values, params, attributes and constraints) in ``study``."""
    study.add_trials(finished)


def constraints_of(trial: FrozenTrial) -> dict[str, float]:
    """The trial's constraints as Optuna records them (<= 0 feasible)."""
    return trial.constraints


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
    :class:`hirisearch.search.retry.Heartbeat`, where Optuna's own heartbeat thread stops)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        raise TypeError("only a database storage has a heartbeat")
    study_id = storage.get_study_id_from_name(study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    return lambda: storage.record_heartbeat(trial_id)


def pruned_state() -> TrialState:
    return TrialState.PRUNED


def has_study(url: str) -> bool:
    """Whether a local storage file of ``url`` exists (a run to resume)."""
    if url.startswith("journal:"):
        return Path(url[len("journal:") :]).exists()
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :]).exists()
    return False
