"""Running a search: storage, trials, workers, resumption, and the results of a run.

Storage (the source of truth; every results file is regenerated from it):

- default: a SQLite file ``<run>/study.db``; one process.
- ``workers > 1``: Optuna's journal file storage ``<run>/study.journal`` (append-only with a file
  lock, safe for several local processes). SQLite with several workers is refused.
- ``postgresql://...``: one study shared by processes on many machines (each with its own
  ``--out``); trials of dead workers are failed by Optuna's heartbeat.

Trial accounting: the study holds exactly ``trials`` COMPLETE trials at the end. A single worker
on the run folder's storage samples from an in-memory study and persists finished trials in
batches (:func:`_work_in_memory`; a SIGKILL loses at most the unflushed batch, re-run on resume).
Several workers, or a shared database, ask for a trial in the storage, evaluate it and tell the
result; a trial that was running when its process died is marked FAIL on resume (the run folder's
lock proves no live process owns it) and re-run. When
several workers race for the last trials, a worker whose freshly asked trial would exceed the count
marks it FAIL (system attribute ``hirisearch:surplus``) and stops.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from hirisearch import interrupt
from hirisearch.cost.types import Cost
from hirisearch.errors import HirisearchError, MemoryBudgetError
from hirisearch.io import RunDir, atomic_write_json, atomic_write_text
from hirisearch.search.budget import (
    Candidate,
    EvalContext,
    Evaluator,
    bound_labels,
    check_budgets,
    evaluate,
)
from hirisearch.search.objectives import ObjectiveContext, get_objective
from hirisearch.search.pareto import pareto_indices, to_minimise
from hirisearch.search.space import Scalar, SearchSpace
from hirisearch.search.strategies import distributions, make_sampler

if TYPE_CHECKING:
    from optuna.storages._heartbeat import BaseHeartbeatThread

ATTR = "hirisearch"  # user attribute holding a trial's evaluation (one storage write)
SURPLUS = "hirisearch:surplus"
FINGERPRINT = "hirisearch:space"

optuna.logging.set_verbosity(optuna.logging.WARNING)


class SearchError(HirisearchError):
    """A search cannot start or continue (storage, run folder, resume)."""

    exit_code = 2


# ------------------------------------------------------------------------------ options
@dataclass(frozen=True)
class SearchOptions:
    """Everything about a run besides the space."""

    out: Path
    trials: int
    storage: str | None = None  # None: the run folder's SQLite / journal file
    study: str = "search"
    resume: bool = False
    workers: int = 1
    calibration: Any = None
    verify: bool = True  # re-count the Pareto configurations with the traced counter


@dataclass(frozen=True)
class Progress:
    """What the progress bar shows."""

    done: int
    total: int
    feasible: int
    best: str


ProgressFn = Callable[[Progress], None]


def default_run_dir(space_file: str, root: str | Path = "reports") -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{Path(space_file).stem}-{stamp}"


def latest_run_dir(space_file: str, root: str | Path = "reports") -> Path | None:
    runs = sorted(Path(root).glob(f"{Path(space_file).stem}-*"), key=lambda p: p.name)
    runs = [r for r in runs if (r / "study.db").exists() or (r / "study.journal").exists()]
    return runs[-1] if runs else None


# ------------------------------------------------------------------------------ storage
def storage_url(opts: SearchOptions) -> str:
    """The storage a run uses, refusing unsafe combinations."""
    if opts.storage is None:
        if opts.workers > 1:
            return f"journal:{opts.out / 'study.journal'}"
        return f"sqlite:///{opts.out / 'study.db'}"
    url = opts.storage
    if url.startswith("sqlite") and opts.workers > 1:
        raise SearchError(
            "--storage sqlite with --workers > 1 is refused: SQLite locks the whole database on "
            "every write, so parallel workers fail with 'database is locked' or lose time "
            "retrying; leave --storage unset to use the journal file storage, or use "
            "--storage postgresql://..."
        )
    if not url.startswith(("sqlite:", "postgresql", "mysql", "journal:")):
        raise SearchError(
            f"--storage must be sqlite:///FILE, postgresql://..., or journal:FILE, but got {url!r}"
        )
    return url


def _pg_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only it is there."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; errors are one line."""
    url = _pg_driver(url)
    try:
        if url.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            return JournalStorage(JournalFileBackend(url[len("journal:") :]))
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
        else:
            kwargs.update(heartbeat_interval=10, grace_period=30)
        storage = optuna.storages.RDBStorage(url, **kwargs)
        if url.startswith("sqlite"):
            _sqlite_wal(storage)
        return storage
    except HirisearchError:
        raise
    except Exception as e:  # noqa: BLE001 - driver errors vary; one line with the cause
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SearchError(f"cannot open storage {_redact(url)}: {msg}") from None


def _sqlite_wal(storage: optuna.storages.RDBStorage) -> None:
    """Write-ahead logging with synchronous=NORMAL: every commit survives a killed process (only
    a power loss can drop the last commits) at a fraction of the default fsync cost."""
    import sqlalchemy

    engine = storage.engine

    @sqlalchemy.event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    engine.dispose()  # reconnect so the pragmas apply to every pooled connection


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _fingerprint(space: SearchSpace) -> str:
    doc = {
        "base": space.base,
        "axes": [asdict(a) for a in space.axes],
        "budgets": [asdict(b) for b in space.budgets],
        "objectives": [asdict(o) for o in space.objectives],
        "strategy": space.strategy,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def open_study(space: SearchSpace, storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Create or load ``name``; a study made from a different space is refused."""
    directions = [o.direction for o in space.objectives]
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, directions=directions, load_if_exists=True
        )
    except ValueError as e:
        raise SearchError(f"study {name!r}: {e}") from None
    fp = _fingerprint(space)
    have = storage.get_study_system_attrs(study._study_id).get(FINGERPRINT)
    if have is None:
        storage.set_study_system_attr(study._study_id, FINGERPRINT, fp)
    elif have != fp:
        raise SearchError(
            f"study {name!r} was made from a different search space (axes, budgets, objectives or "
            f"strategy changed); use another --study or --out"
        )
    if [d.name.lower() for d in study.directions] != directions:
        raise SearchError(f"study {name!r} has different objective directions")
    return study


def fail_running(study: optuna.Study) -> int:
    """Mark every RUNNING trial FAIL (only when no live process can own one). Returns how many."""
    storage = study._storage
    n = 0
    for t in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        with contextlib.suppress(Exception):  # a racing worker may have finished it
            storage.set_trial_system_attr(t._trial_id, "hirisearch:interrupted", True)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            n += 1
    return n


def _count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study._storage.get_all_trials(study._study_id, deepcopy=False, states=states))


# ------------------------------------------------------------------------------- trials
@dataclass
class TrialRunner:
    """Evaluates trials of one study: analytic cost first, objectives for valid candidates, slow
    objectives for feasible ones only."""

    space: SearchSpace
    ctx: EvalContext = field(default_factory=EvalContext)

    def __post_init__(self) -> None:
        self.evaluator = Evaluator(self.space)
        self.objectives = [get_objective(o.name) for o in self.space.objectives]
        self.directions = [o.direction for o in self.space.objectives]
        self.octx = ObjectiveContext(self.space.proxy, self.space.seed)
        self.labels = bound_labels(self.space.budgets)
        self.pid = os.getpid()

    def evaluate(self, values: Mapping[str, Scalar]) -> tuple[list[float], dict[str, Any]]:
        start = time.perf_counter()
        cand = self.evaluator(values)
        check = check_budgets(cand, self.space.budgets, self.ctx, self.labels)
        out: list[float] = []
        refused = ""
        for obj, direction in zip(self.objectives, self.directions, strict=True):
            worst = math.inf if direction == "minimize" else -math.inf
            if not cand.valid or (obj.slow and not check.feasible) or refused:
                out.append(worst)
                continue
            try:
                out.append(obj.value(cand, self.octx))
            except MemoryBudgetError as e:  # a proxy that would not fit: never built
                refused = e.one_line()
                out.append(worst)
        attrs = {
            "valid": cand.valid,
            "feasible": check.feasible and not refused,
            "error": cand.error or refused or None,
            "params": cand.cost.params if cand.valid else None,
            "macs": cand.cost.macs if cand.valid else None,
            "acts": cand.cost.acts if cand.valid else None,
            "slack": list(check.slack),
            "constraints": list(check.constraints),
            "seconds": round(time.perf_counter() - start, 6),
            "worker": self.pid,
        }
        return out, attrs


def constraints_of(trial: FrozenTrial) -> list[float]:
    attrs = trial.user_attrs.get(ATTR)
    return list(attrs["constraints"]) if attrs else [1.0]


TrialDone = Callable[[list[float], dict[str, Any]], None]


def _run_one(
    study: optuna.Study, runner: TrialRunner, dists: dict[str, Any], *, shared: bool, target: int
) -> tuple[list[float], dict[str, Any]] | None:
    """Ask, evaluate, tell one trial. None when the study already has enough trials."""
    trial = study.ask(dists)
    if shared:
        live = study._storage.get_all_trials(
            study._study_id, deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
        )
        if sum(1 for t in live if t.number < trial.number) >= target:
            study._storage.set_trial_system_attr(trial._trial_id, SURPLUS, True)
            study.tell(trial, state=TrialState.FAIL)
            return None
    try:
        hb = _heartbeat(study, trial)
        with hb:
            values, attrs = runner.evaluate(trial.params)
            trial.set_user_attr(ATTR, attrs)
    except BaseException:
        with contextlib.suppress(Exception):
            study.tell(trial, state=TrialState.FAIL)
        raise
    study.tell(trial, values)
    return values, attrs


def _heartbeat(
    study: optuna.Study, trial: optuna.Trial
) -> BaseHeartbeatThread | contextlib.nullcontext[None]:
    from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled

    if is_heartbeat_enabled(study._storage):
        return get_heartbeat_thread(trial._trial_id, study._storage)
    return contextlib.nullcontext()


def work(
    space: SearchSpace,
    url: str,
    study_name: str,
    target: int,
    *,
    seed_offset: int = 0,
    shared: bool,
    on_trial: TrialDone | None = None,
    calibration: Any = None,
    storage: optuna.storages.BaseStorage | None = None,
) -> None:
    """Run trials on the study until it holds ``target`` COMPLETE trials (one worker's loop)."""
    storage = storage or open_storage(url)
    runner = TrialRunner(space, EvalContext(calibration))
    sampler = make_sampler(space, constraints_of, seed=space.seed + seed_offset)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    dists = distributions(space)
    if shared:
        while True:
            if getattr(storage, "is_heartbeat_enabled", lambda: False)():
                optuna.storages.fail_stale_trials(study)
            if _count(study, (TrialState.COMPLETE, TrialState.RUNNING)) >= target:
                return
            done = _run_one(study, runner, dists, shared=True, target=target)
            if done is None:
                return
            if on_trial:
                on_trial(*done)
    _work_in_memory(space, study, runner, dists, target, sampler, on_trial)


#: A single worker persists its finished trials at least this often (seconds) ...
FLUSH_SECONDS = 0.5
#: ... or whenever this many are waiting, whichever comes first.
FLUSH_TRIALS = 256


def _work_in_memory(
    space: SearchSpace,
    study: optuna.Study,
    runner: TrialRunner,
    dists: dict[str, Any],
    target: int,
    sampler: optuna.samplers.BaseSampler,
    on_trial: TrialDone | None,
) -> None:
    """One worker's loop: sample from an in-memory copy of the study, persist finished trials.

    The sampler reads an in-memory study (Optuna's SQLite storage costs a committed write per
    parameter and a re-read of every trial per sample, so TPE slowed as trials accumulated). The
    persisted study's trials are loaded into it first, so a resumed run's sampler sees them. Each
    finished trial is written to the persistent study as one COMPLETE trial (``add_trials``), in
    batches at most ``FLUSH_SECONDS`` or ``FLUSH_TRIALS`` apart and always on the way out
    (finished, Ctrl-C, error). A trial counts as finished once it is persisted: a SIGKILL loses
    at most the last unflushed batch, which the resumed run re-runs (the count of COMPLETE trials
    in the persistent study decides how many remain, so the final count is exact and no trial is
    recorded twice). No trial of this mode is ever RUNNING in the persistent storage.
    """
    directions = [o.direction for o in space.objectives]
    mem = optuna.create_study(
        storage=optuna.storages.InMemoryStorage(), sampler=sampler, directions=directions
    )
    persisted = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if persisted:
        mem.add_trials(persisted)
    remaining = target - len(persisted)
    pending: list[FrozenTrial] = []
    last = time.monotonic()
    try:
        with _young_gc_only():
            for _ in range(max(remaining, 0)):
                trial = mem.ask(dists)
                values, attrs = runner.evaluate(trial.params)
                trial.set_user_attr(ATTR, attrs)
                pending.append(mem.tell(trial, values))
                if on_trial:
                    on_trial(values, attrs)
                now = time.monotonic()
                if len(pending) >= FLUSH_TRIALS or now - last >= FLUSH_SECONDS:
                    persist_trials(study, pending)
                    pending, last = [], now
                    gc.collect(1)
    finally:
        if pending:
            persist_trials(study, pending)


def persist_trials(study: optuna.Study, trials: list[FrozenTrial]) -> None:
    """Add finished trials to ``study`` in one transaction where the storage allows.

    On an RDB storage (SQLite) Optuna's ``add_trials`` costs a committed transaction of about 30
    ORM queries per trial (~40 ms); here a batch is written as plain rows of Optuna's schema in
    one transaction, all of it or nothing. Only the run's single writer may call this (the run
    folder's lock): trial numbers continue the study's count. Other storages use ``add_trials``.
    """
    backend = getattr(study._storage, "_backend", study._storage)
    if not isinstance(backend, optuna.storages.RDBStorage):
        study.add_trials(trials)
        return
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models

    for t in trials:
        t._validate()
    session = backend.scoped_session()
    try:
        models.StudyModel.find_or_raise_by_id(study._study_id, session, for_update=True)
        number = (
            session.query(models.TrialModel)
            .filter(models.TrialModel.study_id == study._study_id)
            .count()
        )
        rows = []
        for k, t in enumerate(trials):
            row = models.TrialModel(study_id=study._study_id, number=number + k, state=t.state)
            row.datetime_start = t.datetime_start
            row.datetime_complete = t.datetime_complete
            for i, v in enumerate(t.values or ()):
                stored, kind = models.TrialValueModel.value_to_stored_repr(v)
                row.values.append(
                    models.TrialValueModel(objective=i, value=stored, value_type=kind)
                )
            for name, value in t.params.items():
                dist = t.distributions[name]
                row.params.append(
                    models.TrialParamModel(
                        param_name=name,
                        param_value=dist.to_internal_repr(value),
                        distribution_json=distribution_to_json(dist),
                    )
                )
            for key, value in t.user_attrs.items():
                row.user_attributes.append(
                    models.TrialUserAttributeModel(key=key, value_json=json.dumps(value))
                )
            for key, value in t.system_attrs.items():
                row.system_attributes.append(
                    models.TrialSystemAttributeModel(key=key, value_json=json.dumps(value))
                )
            rows.append(row)
        session.add_all(rows)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _worker_main(args: tuple[Any, ...]) -> None:  # pragma: no cover - runs in a child process
    space, url, name, target, offset, calibration = args
    try:
        work(space, url, name, target, seed_offset=offset, shared=True, calibration=calibration)
    except KeyboardInterrupt:
        pass


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class TrialRecord:
    """One trial of the study, flattened for files and tables."""

    number: int
    state: str
    values: dict[str, Scalar]
    valid: bool
    feasible: bool
    error: str | None
    params: int | None
    macs: int | None
    acts: int | None
    objectives: dict[str, float | None]
    slack: dict[str, float]
    worker: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def records_of(study: optuna.Study, space: SearchSpace) -> list[TrialRecord]:
    names = [o.name for o in space.objectives]
    labels = bound_labels(space.budgets)
    out = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs.get(ATTR) or {}
        vals = t.values if t.state == TrialState.COMPLETE and t.values else [None] * len(names)
        out.append(
            TrialRecord(
                number=t.number,
                state=t.state.name,
                values=dict(t.params),
                valid=bool(attrs.get("valid", False)),
                feasible=bool(attrs.get("feasible", False)) and t.state == TrialState.COMPLETE,
                error=attrs.get("error")
                or ("surplus" if t.system_attrs.get(SURPLUS) else None)
                or ("interrupted" if t.system_attrs.get("hirisearch:interrupted") else None),
                params=attrs.get("params"),
                macs=attrs.get("macs"),
                acts=attrs.get("acts"),
                objectives={
                    n: (v if v is None or math.isfinite(v) else None)
                    for n, v in zip(names, vals, strict=True)
                },
                slack=dict(zip(labels, attrs.get("slack") or [], strict=False)),
                worker=attrs.get("worker"),
            )
        )
    return out


@dataclass(frozen=True)
class TracedCheck:
    macs: int
    params: int
    agrees: bool
    within_budget: bool


@dataclass(frozen=True)
class ParetoEntry:
    record: TrialRecord
    diff: dict[str, tuple[Any, Any]]  # axis -> (base value, this value)
    spec_file: str
    traced: TracedCheck | None


@dataclass(frozen=True)
class SearchResult:
    """A finished (or interrupted) run, all JSON-serialisable."""

    run_dir: str
    study: str
    storage: str
    space_file: str
    strategy: str
    requested: int
    complete: int
    failed: int
    feasible: int
    objectives: list[dict[str, str]]
    budgets: list[str]
    pareto: list[ParetoEntry]
    cheapest: dict[str, Any] | None = None  # when nothing is feasible
    base: dict[str, Any] | None = None  # the base spec's own cost
    base_spec: dict[str, Any] | None = None  # the base spec's mapping
    interrupted: bool = False
    grid_configs_per_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _get(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        try:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
        except (IndexError, ValueError, AttributeError):
            return None
    return node


def spec_yaml(space: SearchSpace, cand: Candidate, name: str, note: str) -> str:
    """A ready spec file: the candidate's mapping in the base spec's key order."""
    data = dict(cand.data)
    data["name"] = name
    data["description"] = note
    order = ["family", "name", "description"]
    doc = {k: data[k] for k in order if k in data} | {
        k: v for k, v in data.items() if k not in order
    }
    header = f"# Found by `hirisearch search {space.file}`; {note}\n"
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def _traced_check(space: SearchSpace, cand: Candidate) -> TracedCheck:
    from hirisearch.cost.counters import count_traced

    assert cand.plan is not None and cand.tree is not None
    traced = count_traced(
        lambda device=None, dtype=None: space.family.build(cand.plan, device=device, dtype=dtype),
        cand.plan.input_shape,
    )
    analytic = cand.tree.total
    agrees = traced.total.macs == analytic.macs and traced.total.params == analytic.params
    shadow = Candidate(
        cand.values,
        cand.data,
        cand.spec,
        cand.plan,
        type(cand.tree)(
            Cost(params=traced.total.params, conv=traced.total.macs, acts=analytic.acts)
        ),
    )
    within = check_budgets(shadow, space.budgets).feasible
    return TracedCheck(traced.total.macs, traced.total.params, agrees, within)


def write_results(
    space: SearchSpace,
    study: optuna.Study,
    opts: SearchOptions,
    url: str,
    *,
    interrupted: bool = False,
    verify: bool = True,
    grid_rate: float | None = None,
) -> SearchResult:
    """Regenerate every results file of the run folder from the study."""
    records = records_of(study, space)
    out = opts.out
    _write_trials(out, records, space)
    directions = [o.direction for o in space.objectives]
    names = [o.name for o in space.objectives]
    feasible = [
        r for r in records if r.feasible and all(r.objectives[n] is not None for n in names)
    ]
    # duplicates of a configuration (samplers revisit) count once on the front
    unique: dict[tuple[Any, ...], TrialRecord] = {}
    for r in feasible:
        unique.setdefault(tuple(sorted(r.values.items())), r)
    pool = list(unique.values())
    points = [to_minimise([r.objectives[n] for n in names], directions) for r in pool]  # type: ignore[misc]
    front = [pool[i] for i in pareto_indices(points)]
    front.sort(key=lambda r: points[pool.index(r)])
    pareto_dir = out / "pareto"
    if pareto_dir.exists():
        for old in pareto_dir.glob("*.yaml"):
            old.unlink()
    entries = []
    notes = []
    base_name = str(space.base.get("name", "model"))
    for k, r in enumerate(front):
        cand = evaluate(space, r.values)
        diff = {
            p: (_get(space.base, p), v) for p, v in r.values.items() if _get(space.base, p) != v
        }
        name = f"{base_name}-search-{r.number}"
        if r.params is None or r.macs is None:  # cannot happen: a feasible trial has its cost
            raise SearchError(f"trial {r.number} is feasible but has no recorded cost")
        note = (
            f"trial {r.number}: {r.params / 1e6:.2f}M params, {r.macs / 1e9:.3f} GFLOPs at "
            f"{cand.plan.img_size}"
        )
        path = pareto_dir / f"{k:02d}_trial{r.number}.yaml"
        atomic_write_text(path, spec_yaml(space, cand, name, note))
        traced = _traced_check(space, cand) if verify else None
        if traced is not None and not traced.agrees:
            notes.append(
                f"trial {r.number}: analytic cost ({r.macs} MACs, {r.params} params) disagrees "
                f"with the traced count ({traced.macs} MACs, {traced.params} params)"
            )
        if traced is not None and not traced.within_budget:
            notes.append(f"trial {r.number}: outside the budget by its traced count")
        entries.append(ParetoEntry(r, diff, str(path), traced))
    cheapest = None
    if not front:
        cheapest = cheapest_config(space)
    base_cand = evaluate(space, {})
    result = SearchResult(
        run_dir=str(out),
        study=study.study_name,
        storage=_redact(url),
        space_file=space.file,
        strategy=space.strategy,
        requested=opts.trials,
        complete=sum(r.state == "COMPLETE" for r in records),
        failed=sum(r.state == "FAIL" for r in records),
        feasible=len(feasible),
        objectives=[{"name": o.name, "direction": o.direction} for o in space.objectives],
        budgets=list(bound_labels(space.budgets)),
        pareto=entries,
        cheapest=cheapest,
        base=_base_row(space, base_cand),
        base_spec=dict(space.base),
        interrupted=interrupted,
        grid_configs_per_s=grid_rate,
        notes=notes,
    )
    atomic_write_json(out / "search.json", result.to_json())
    return result


def _base_row(space: SearchSpace, cand: Candidate) -> dict[str, Any] | None:
    if not cand.valid:
        return None
    check = check_budgets(cand, space.budgets)
    octx = ObjectiveContext(space.proxy, space.seed)
    objs = {}
    for o in space.objectives:
        d = get_objective(o.name)
        objs[o.name] = None if d.slow else d.value(cand, octx)
    return {
        "name": space.base.get("name"),
        "params": cand.cost.params,
        "macs": cand.cost.macs,
        "feasible": check.feasible,
        "objectives": objs,
        "slack": dict(zip(check.bounds, check.slack, strict=True)),
    }


def _write_trials(out: Path, records: list[TrialRecord], space: SearchSpace) -> None:
    atomic_write_text(
        out / "trials.jsonl", "".join(json.dumps(r.to_json(), default=str) + "\n" for r in records)
    )
    axes = [a.path for a in space.axes]
    names = [o.name for o in space.objectives]
    labels = list(bound_labels(space.budgets))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "number",
            "state",
            "valid",
            "feasible",
            "params",
            "macs",
            "acts",
            *axes,
            *(f"objective:{n}" for n in names),
            *(f"slack:{b}" for b in labels),
            "error",
        ]
    )
    for r in records:
        w.writerow(
            [r.number, r.state, r.valid, r.feasible, r.params, r.macs, r.acts,
             *(r.values.get(a) for a in axes), *(r.objectives.get(n) for n in names),
             *(r.slack.get(b) for b in labels), r.error or ""]
        )  # fmt: skip
    atomic_write_text(out / "trials.csv", buf.getvalue())


# ------------------------------------------------------------------------ corners, grid
def corner(space: SearchSpace, which: str) -> Candidate:
    """The configuration with every axis at its cheapest (``low``) or dearest (``high``) end.

    Ends are judged per axis by the analytic cost of moving that axis alone from the base.
    """
    values: dict[str, Scalar] = {}
    for a in space.axes:
        ends = a.values() if a.finite else (a.low, a.high)
        costs = []
        for v in (ends[0], ends[-1]) if a.choices is None else ends:
            c = evaluate(space, {a.path: v})  # type: ignore[dict-item]
            costs.append((c.cost.macs if c.valid else math.inf, v))
        valid = [x for x in costs if math.isfinite(x[0])] or costs
        pick = min(valid, key=lambda x: x[0]) if which == "low" else max(valid, key=lambda x: x[0])
        values[a.path] = pick[1]  # type: ignore[assignment]
    return evaluate(space, values)


def cheapest_config(space: SearchSpace, limit: int = 200_000) -> dict[str, Any]:
    """The valid configuration with the fewest MACs (exact for finite spaces up to ``limit``)."""
    best: Candidate | None = None
    if space.size <= limit:
        for combo in space.grid():
            c = evaluate(space, dict(zip((a.path for a in space.axes), combo, strict=True)))
            if c.valid and (best is None or c.cost.macs < best.cost.macs):
                best = c
        how = "exact"
    else:
        best = corner(space, "low")
        how = "cheapest corner"
    if best is None or not best.valid:
        return {"values": None, "how": how, "error": "no valid configuration in the space"}
    return {
        "values": dict(best.values),
        "how": how,
        "params": best.cost.params,
        "macs": best.cost.macs,
        "acts": best.cost.acts,
    }


def grid_evaluate(
    space: SearchSpace,
) -> tuple[list[tuple[dict[str, Scalar], list[float], dict[str, Any]]], float]:
    """Exhaustive mode: the analytic evaluation of every configuration, and the rate per second."""
    runner = TrialRunner(space)
    paths = [a.path for a in space.axes]
    out = []
    start = time.perf_counter()
    with _young_gc_only():
        for k, combo in enumerate(space.grid(), 1):
            values = dict(zip(paths, combo, strict=True))
            objs, attrs = runner.evaluate(values)
            out.append((values, objs, attrs))
            if k % GRID_GC_EVERY == 0:
                gc.collect(1)
    elapsed = time.perf_counter() - start
    return out, len(out) / elapsed if elapsed > 0 else math.inf


#: The grid collects cyclic garbage (e.g. of rejected candidates' exceptions) this often.
GRID_GC_EVERY = 20_000


@contextlib.contextmanager
def _young_gc_only() -> Iterator[None]:
    """Pause the automatic cyclic garbage collector (the caller collects the young generations).

    The grid keeps every configuration's result, so the heap grows by several objects per
    configuration and the automatic full collections rescan all of it: about half the grid's
    time. Reference counting still frees everything that is not in a cycle.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _record_grid(study: optuna.Study, space: SearchSpace, rows: list[Any]) -> None:
    """Record the grid's results as trials, skipping configurations already in the study."""
    from optuna.trial import create_trial

    dists = distributions(space)
    have = {
        tuple(sorted(t.params.items()))
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    }
    batch = []
    for values, objs, attrs in rows:
        if tuple(sorted(values.items())) in have:
            continue
        batch.append(
            create_trial(
                params=values,
                distributions=dists,
                values=objs,
                user_attrs={ATTR: attrs},
                system_attrs={"constraints": tuple(attrs["constraints"])},
            )
        )
        if len(batch) >= 500:
            study.add_trials(batch)
            batch = []
    if batch:
        study.add_trials(batch)


# ---------------------------------------------------------------------------------- run
def run_search(
    space: SearchSpace, opts: SearchOptions, *, progress: ProgressFn | None = None
) -> SearchResult:
    """Run (or resume) a search and write its results; the run folder is held exclusively."""
    if opts.workers < 1:
        raise SearchError(f"--workers must be >= 1, but got {opts.workers}")
    url = storage_url(opts)
    with RunDir(opts.out):
        local = opts.storage is None
        if (
            local
            and not opts.resume
            and ((opts.out / "study.db").exists() or (opts.out / "study.journal").exists())
        ):
            raise SearchError(
                f"{opts.out} already holds a search; add --resume to continue it, or choose "
                "another --out"
            )
        if local and opts.resume:
            other = "study.journal" if opts.workers > 1 else "study.db"
            if (opts.out / other).exists():
                url = (
                    f"journal:{opts.out / other}" if other == "study.journal"
                    else f"sqlite:///{opts.out / other}"
                )  # fmt: skip
        storage = open_storage(url)
        study = open_study(space, storage, opts.study)
        if local:
            # The lock on the run folder proves no live process owns a RUNNING trial here.
            fail_running(study)
        if space.strategy == "grid":
            return _run_grid(space, study, opts, url, progress)
        return _run_trials(space, study, storage, opts, url, progress)


def _progress_of(space: SearchSpace, study: optuna.Study, target: int) -> Progress:
    done = feasible = 0
    best = None
    o = space.objectives[0]
    for t in study._storage.get_all_trials(
        study._study_id, deepcopy=False, states=(TrialState.COMPLETE,)
    ):
        done += 1
        attrs = t.user_attrs.get(ATTR) or {}
        if attrs.get("feasible") and t.values and math.isfinite(t.values[0]):
            feasible += 1
            v = t.values[0]
            if best is None or (v < best if o.direction == "minimize" else v > best):
                best = v
    return Progress(done, target, feasible, "-" if best is None else f"{o.name}={best:.4g}")


def _run_trials(
    space: SearchSpace,
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    opts: SearchOptions,
    url: str,
    progress: ProgressFn | None,
) -> SearchResult:
    interrupted = False
    shared = opts.workers > 1 or not url.startswith(("sqlite", "journal"))
    try:
        if opts.workers > 1:
            _run_workers(space, study, opts, url, progress)
        else:
            state = _progress_of(space, study, opts.trials)
            counter = {"done": state.done, "feasible": state.feasible}
            best: list[Any] = [None, state.best]
            first = space.objectives[0]

            def tick(values: list[float], attrs: dict[str, Any]) -> None:
                counter["done"] += 1
                if attrs["feasible"] and math.isfinite(values[0]):
                    counter["feasible"] += 1
                    v = values[0]
                    if best[0] is None or (
                        v < best[0] if first.direction == "minimize" else v > best[0]
                    ):
                        best[:] = [v, f"{first.name}={v:.4g}"]
                if progress:
                    progress(Progress(counter["done"], opts.trials, counter["feasible"], best[1]))

            if progress:
                progress(state)
            work(
                space,
                url,
                opts.study,
                opts.trials,
                shared=shared,
                on_trial=tick,
                calibration=opts.calibration,
                storage=storage,
            )
    except KeyboardInterrupt:
        interrupt.handled()
        interrupted = True
    study = optuna.load_study(study_name=opts.study, storage=storage)
    if interrupted and url.startswith(("sqlite", "journal")):
        fail_running(study)
    return write_results(space, study, opts, url, interrupted=interrupted, verify=opts.verify)


def _run_workers(
    space: SearchSpace,
    study: optuna.Study,
    opts: SearchOptions,
    url: str,
    progress: ProgressFn | None,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker_main,
            args=((space, url, opts.study, opts.trials, i, opts.calibration),),
            daemon=False,
        )
        for i in range(opts.workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            if progress:
                progress(_progress_of(space, study, opts.trials))
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupt.handled()
        for p in procs:
            p.join(timeout=10)
        raise
    finally:
        for p in procs:
            p.join()
    if progress:
        progress(_progress_of(space, study, opts.trials))
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise SearchError(f"{len(bad)} of {opts.workers} workers failed (exit codes {bad})")


def _run_grid(
    space: SearchSpace,
    study: optuna.Study,
    opts: SearchOptions,
    url: str,
    progress: ProgressFn | None,
) -> SearchResult:
    rows, rate = grid_evaluate(space)
    if progress:
        feasible = sum(1 for _, _, a in rows if a["feasible"])
        progress(Progress(len(rows), len(rows), feasible, "-"))
    _record_grid(study, space, rows)
    grid_opts = SearchOptions(
        opts.out, len(rows), opts.storage, opts.study, opts.resume, 1, verify=opts.verify
    )
    return write_results(space, study, grid_opts, url, grid_rate=rate, verify=opts.verify)
