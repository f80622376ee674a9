"""The search engine: ask a strategy's sampler for a configuration, evaluate it, tell the result.

Evaluation (:class:`TrialRunner`): analytic cost first (microseconds), cheap objectives for valid
candidates, slow objectives (proxies, measured latency) for feasible ones only. Budgets become
Optuna constraints, one per bound plus validity (<= 0 feasible).

Trial accounting: the study holds exactly ``target`` COMPLETE trials at the end.

- One worker on the run folder's storage (:func:`work_in_memory`) samples from an in-memory
  copy of the study and records finished trials in batches with ``Study.add_trials``; a SIGKILL
  loses at most the unrecorded batch, which the resumed run re-runs (the count of COMPLETE trials
  in the stored study decides how many remain). No trial of this mode is ever RUNNING in storage.
  A Ctrl-C waits for the batch being written (:func:`hirisearch.interrupt.deferred`): cut short
  there, it would lose the batch, write it twice, or leave this process's copy of the stored
  study without a trial the journal holds (Optuna counts a log as read before applying it).
- Several workers, or a shared database (:func:`work_shared`), run ``Study.optimize`` on the
  stored study (Optuna's heartbeat fails the trials of dead workers on PostgreSQL). A worker whose
  freshly asked trial would exceed the count prunes it (user attribute ``hirisearch:surplus``)
  and stops.

Trials pruned by the space's pruner count towards ``target`` like COMPLETE ones (a surplus trial
does not). On a database with a heartbeat, a worker that finds the count reached only by RUNNING
trials waits: one of them may belong to a dead worker, and is then failed by the heartbeat and
queued again (:func:`storage.fail_stale`), and someone must run it. Lost connections are retried
with backoff (:mod:`hirisearch.ops.search.retry`); a running trial keeps its heartbeat through them.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hirisearch import interrupt
from hirisearch.errors import MemoryBudgetError, Pruned
from hirisearch.ops.search import retry
from hirisearch.ops.search import storage as st
from hirisearch.ops.search.budget import bound_labels, check_budgets
from hirisearch.ops.search.candidate import Evaluator
from hirisearch.ops.search.metrics import EvalContext, latency_fields
from hirisearch.ops.search.objectives import UserObjective, get_objective
from hirisearch.ops.search.pruners import make_pruner
from hirisearch.ops.search.strategies import distributions, make_sampler
from hirisearch.ops.search.trial import CandidateTrial
from hirisearch.ops.search.types import Scalar, SearchSpace
from hirisearch.runtime import gc_paused

TrialDone = Callable[[list[float], dict[str, Any]], None]


@dataclass
class TrialRunner:
    """Evaluates configurations of one space."""

    space: SearchSpace
    ctx: EvalContext = field(default_factory=EvalContext)

    def __post_init__(self) -> None:
        self.evaluator = Evaluator(self.space)
        where = os.path.dirname(os.path.abspath(self.space.file))
        self.objectives = [get_objective(o.name, search_dir=where) for o in self.space.objectives]
        self.directions = [o.direction for o in self.space.objectives]
        self.labels = bound_labels(self.space.budgets)
        self.with_latency = self.ctx.calibration is not None
        self.pid = os.getpid()

    def evaluate(
        self, values: Mapping[str, Scalar], trial: optuna.Trial | None = None
    ) -> tuple[list[float], dict[str, Any]]:
        """Objective values (worst where not computed) and the trial's record; a user objective
        gets ``trial`` (for ``report``/``should_prune``) and may prune it (``attrs["pruned"]``)."""
        start = time.perf_counter()
        cand = self.evaluator(values)
        check = check_budgets(cand, self.space.budgets, self.ctx, self.labels)
        out: list[float] = []
        refused = ""
        pruned: CandidateTrial | None = None
        for obj, direction in zip(self.objectives, self.directions, strict=True):
            worst = math.inf if direction == "minimize" else -math.inf
            if not cand.valid or (obj.slow and not check.feasible) or refused or pruned:
                out.append(worst)
                continue
            try:
                if not isinstance(obj, UserObjective) or obj.call is None:
                    out.append(obj.scalar(cand, self.ctx))
                    continue
                handle = CandidateTrial(cand, trial, single_objective=len(self.objectives) == 1)
                try:
                    out.append(obj.call(handle))
                except Pruned:
                    pruned = handle
                    out.append(worst)
            except MemoryBudgetError as e:  # a slow objective that would not fit: never built
                refused = e.one_line()
                out.append(worst)
        latency, span = latency_fields(cand, self.ctx) if cand.valid else (None, None)
        attrs = {
            "valid": cand.valid,
            "feasible": check.feasible and not refused,
            "error": cand.error or refused or None,
            "params": cand.cost.params if cand.valid else None,
            "macs": cand.cost.macs if cand.valid else None,
            "acts": cand.cost.acts if cand.valid else None,
            "latency_ms": latency,
            "predicted_interval_ms": None if span is None else list(span),
            "slack": list(check.slack),
            "seconds": round(time.perf_counter() - start, 6),
            "worker": self.pid,
        }
        if pruned is not None:  # never feasible; Optuna records the last reported value
            attrs.update(
                feasible=False, pruned=True, step=pruned.last_step, last_value=pruned.last_value
            )
        return out, attrs

    def constraints(self, attrs: Mapping[str, Any]) -> dict[str, float]:
        """Optuna's convention, <= 0 is feasible: validity, then one per bound."""
        out = {"valid": 0.0 if attrs["valid"] else 1.0}
        for label, s in zip(self.labels, attrs["slack"] or [-1.0] * len(self.labels), strict=True):
            out[label] = -s
        return out


def _tell(
    runner: TrialRunner, trial: optuna.Trial, on_trial: TrialDone | None = None
) -> list[float]:
    """Evaluate, record the evaluation on ``trial`` (waiting out a database outage) and return
    the values; a pruned trial raises ``TrialPruned`` once recorded."""
    values, attrs = runner.evaluate(trial.params, trial)

    def record() -> None:
        trial.set_user_attr(st.ATTR, attrs)
        st.set_constraints(trial, runner.constraints(attrs))

    retry.retrying(record, what=f"recording trial {trial.number}")
    if on_trial:
        on_trial(values, attrs)
    if attrs.get("pruned"):
        raise optuna.TrialPruned(f"pruned at step {attrs['step']}")
    return values


#: A single worker records its finished trials at least this often (seconds) ...
FLUSH_SECONDS = 0.5
#: ... or whenever this many are waiting, whichever comes first.
FLUSH_TRIALS = 256


def work_in_memory(
    space: SearchSpace,
    study: optuna.Study,
    target: int,
    *,
    calibration: Any = None,
    on_trial: TrialDone | None = None,
) -> None:
    """One worker's loop on the run folder's storage (see the module docstring)."""
    runner = TrialRunner(space, EvalContext.of(space, calibration))
    mem = st.in_memory_study(space, make_sampler(space), make_pruner(space))
    persisted = st.sampler_trials(study) + [
        t for t in st.finished(study) if t.state == TrialState.PRUNED
    ]
    if persisted:
        mem.add_trials(persisted)
    remaining = target - len(persisted)
    dists = distributions(space)
    pending: list[FrozenTrial] = []
    last = [time.monotonic()]

    def objective(trial: optuna.Trial) -> list[float]:
        return _tell(runner, trial, on_trial)

    def record(_study: optuna.Study, frozen: FrozenTrial) -> None:
        if not st.counts(frozen):
            return
        pending.append(frozen)
        now = time.monotonic()
        if len(pending) >= FLUSH_TRIALS or now - last[0] >= FLUSH_SECONDS:
            with interrupt.deferred():  # Ctrl-C waits for the batch (module docstring)
                batch = pending[:]  # out of ``pending`` first: an error in the write must not
                pending.clear()  # have the ``finally`` below record them twice
                st.add_trials(study, batch)
            last[0] = now
            gc.collect(1)

    try:
        if remaining > 0:
            with gc_paused():  # record() collects the young generations
                mem.optimize(
                    _with_params(objective, dists),
                    n_trials=remaining,
                    callbacks=[record],
                    gc_after_trial=False,
                )
    finally:
        with interrupt.deferred():
            if pending:
                st.add_trials(study, pending)
            st.flush_held()


def work_shared(
    space: SearchSpace,
    url: str,
    study_name: str,
    target: int,
    *,
    seed_offset: int = 0,
    on_trial: TrialDone | None = None,
    calibration: Any = None,
    heartbeat_s: int | None = None,
) -> None:
    """Run trials on a stored study shared with other workers until it holds ``target``."""
    storage = retry.retrying(
        lambda: st.open_storage(url, heartbeat_s=heartbeat_s), what="opening the storage"
    )
    sampler = make_sampler(space, seed=space.seed + seed_offset)
    pruner = make_pruner(space)
    study = retry.retrying(
        lambda: st.load_study(study_name, storage, sampler, pruner), what="loading the study"
    )
    runner = TrialRunner(space, EvalContext.of(space, calibration))
    dists = distributions(space)
    beat = st.heartbeat_of(storage)

    def objective(trial: optuna.Trial) -> list[float]:
        before = retry.retrying(
            lambda: st.complete_or_running_before(study, trial.number), what="counting trials"
        )
        if before >= target:
            retry.retrying(lambda: trial.set_user_attr(st.SURPLUS, True), what="a surplus trial")
            study.stop()
            raise optuna.TrialPruned()
        if beat is None:
            return _tell(runner, trial, on_trial)
        keep = retry.retrying(
            lambda: st.beat(storage, study_name, trial.number), what="starting a heartbeat"
        )
        with retry.Heartbeat(keep, beat):
            return _tell(runner, trial, on_trial)

    def enough(study: optuna.Study, _trial: FrozenTrial) -> None:
        if len(st.finished(study)) >= target:
            study.stop()

    backoff = retry.Backoff()
    seen: set[int] = set()  # RUNNING trials this worker has waited for
    with _quiet_dead_heartbeats():
        while True:
            try:
                done = len(st.finished(study))
                if done >= target:
                    return
                running = st.trials(study, TrialState.RUNNING)
                if done + len(running) >= target:
                    if beat is None:
                        return  # no dead worker can hold a trial here: the others finish them
                    # A RUNNING trial may be a dead worker's: wait until it ends or is failed.
                    # One asked just as its worker died or lost the database may never have
                    # beaten, and Optuna fails only trials with a stale beat: give it one.
                    for t in running:
                        if t.number not in seen:
                            seen.add(t.number)
                            st.beat(storage, study_name, t.number)()
                    time.sleep(beat)
                    st.fail_stale(study)
                    continue
                study.optimize(
                    _with_params(objective, dists), callbacks=[enough], gc_after_trial=False
                )
                backoff.reset()
            except Exception as e:
                if _taken_over(e):
                    continue  # our trial was failed as stale meanwhile; its copy is re-run
                if not retry.is_connection_error(e):
                    raise
                backoff.sleep(e, "running trials")


def _taken_over(error: BaseException) -> bool:
    """Whether ``error`` says the worker's trial was finished by someone else (failed as stale
    by another worker's heartbeat check after an outage): Optuna refuses to update it."""
    finished = isinstance(error, optuna.exceptions.UpdateFinishedTrialError) or (
        isinstance(error, RuntimeError) and "has already finished" in str(error)
    )
    return finished and not retry.is_connection_error(error)


@contextmanager
def _quiet_dead_heartbeats() -> Iterator[None]:
    """Optuna's heartbeat thread ends with a traceback on stderr when the database goes away;
    :class:`retry.Heartbeat` keeps the beat, so such a thread's end is not worth a traceback."""
    import threading

    old = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and retry.is_connection_error(args.exc_value):
            return
        old(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = old


def _with_params(
    objective: Callable[[optuna.Trial], list[float]], dists: dict[str, Any]
) -> Callable[[optuna.Trial], list[float]]:
    """Suggest every axis through the public ``Trial.suggest_*`` API before evaluating."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    def wrapped(trial: optuna.Trial) -> list[float]:
        for name, d in dists.items():
            if isinstance(d, CategoricalDistribution):
                trial.suggest_categorical(name, d.choices)
            elif isinstance(d, FloatDistribution):
                trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
            else:
                trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        return objective(trial)

    return wrapped
