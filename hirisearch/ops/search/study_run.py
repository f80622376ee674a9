"""The run path of the trial strategies (``tpe``, ``nsga2``, ``gp``, ``random``, ``grid``): an
Optuna study in the run folder (``study.journal``, see :mod:`hirisearch.ops.search.storage`) or on
a shared database, one or several workers (:mod:`hirisearch.ops.search.engine`), resumption, and
the records and front read back from the study.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hirisearch import interrupt
from hirisearch.io import RunDir
from hirisearch.ops.search.budget import bound_labels
from hirisearch.ops.search.metrics import EvalContext, load_space_calibration
from hirisearch.ops.search.options import Progress, ProgressFn, SearchOptions
from hirisearch.ops.search.results import (
    SearchResult,
    TrialRecord,
    front_of,
    pareto_entries,
    search_result,
)
from hirisearch.ops.search.retry import retrying
from hirisearch.ops.search.strategies import STRATEGIES
from hirisearch.ops.search.types import SearchError, SearchSpace


def run_study(
    space: SearchSpace, opts: SearchOptions, ctx: EvalContext, progress: ProgressFn | None = None
) -> tuple[SearchResult, list[TrialRecord]]:
    """Run (or resume) the study of ``space`` in ``opts.out``, held exclusively meanwhile."""
    from hirisearch.ops.search import storage as st

    url = st.storage_url(opts.out, opts.storage, opts.workers)
    with RunDir(opts.out):
        local = opts.storage is None
        if local and st.has_study(url) and not opts.resume:
            raise SearchError(
                f"{opts.out} already holds a search; add --resume to continue it, or choose "
                "another --out"
            )
        storage = st.open_storage(url)
        study = st.open_study(space, storage, opts.study)
        if local:
            # The lock on the run folder proves no live process owns a RUNNING trial here.
            st.fail_running(study)
        target = STRATEGIES[space.strategy].trials(space, opts.trials)
        interrupted = False
        notes: list[str] = []
        try:
            if opts.workers > 1 or opts.gpus:
                notes = _run_workers(space, study, opts, url, target, progress)
            elif st.is_local(url):
                _run_single(space, study, target, ctx, progress)
            else:
                from hirisearch.ops.search.engine import work_shared

                work_shared(
                    space,
                    url,
                    opts.study,
                    target,
                    calibration=ctx.calibration,
                    heartbeat_s=opts.heartbeat_s,
                )
        except (KeyboardInterrupt, Exception) as e:
            if not interrupt.cut_short(e):
                raise
            interrupt.handled()
            interrupted = True
            # What the storage holds, read afresh: a Ctrl-C that lands while this process reads
            # the journal (the progress of several workers) can leave its copy of the study short.
            storage = st.open_storage(url)
        study = st.load_study(opts.study, storage)
        if interrupted and st.is_local(url):
            st.fail_running(study)
        return _results(space, study, opts, url, target, ctx, interrupted, notes)


def _best(space: SearchSpace) -> Callable[[float | None, float], float]:
    maximise = space.objectives[0].direction == "maximize"
    return lambda old, v: v if old is None or (v > old if maximise else v < old) else old


def _run_single(
    space: SearchSpace,
    study: Any,
    target: int,
    ctx: EvalContext,
    progress: ProgressFn | None,
) -> None:
    from hirisearch.ops.search.engine import work_in_memory

    state = _progress_of(space, study, target)
    counter = [state.done, state.feasible]
    best: list[Any] = [None, state.best]
    better = _best(space)
    name = space.objectives[0].name

    def tick(values: list[float], attrs: dict[str, Any]) -> None:
        counter[0] += 1
        if attrs["feasible"] and math.isfinite(values[0]):
            counter[1] += 1
            best[0] = better(best[0], values[0])
            best[1] = f"{name}={best[0]:.4g}"
        if progress:
            progress(Progress(counter[0], target, counter[1], best[1]))

    if progress:
        progress(state)
    work_in_memory(space, study, target, calibration=ctx.calibration, on_trial=tick)


def _progress_of(space: SearchSpace, study: Any, target: int) -> Progress:
    from hirisearch.ops.search import storage as st

    done = feasible = 0
    best: float | None = None
    better = _best(space)
    for t in st.finished(study):
        done += 1
        attrs = t.user_attrs.get(st.ATTR) or {}
        if attrs.get("feasible") and t.values and math.isfinite(t.values[0]):
            feasible += 1
            best = better(best, t.values[0])
    name = space.objectives[0].name
    return Progress(done, target, feasible, "-" if best is None else f"{name}={best:.4g}")


def _run_workers(
    space: SearchSpace,
    study: Any,
    opts: SearchOptions,
    url: str,
    target: int,
    progress: ProgressFn | None,
) -> list[str]:
    """Worker processes (one per ``--gpus`` device); returns notes for the results.

    A worker killed on a storage with a heartbeat is not an error when the others finished the
    study: its trial was failed by the heartbeat and re-run.
    """
    from hirisearch.ops.search import storage as st

    ctx = multiprocessing.get_context("spawn")
    errors = ctx.SimpleQueue()
    procs = []
    for i in range(opts.workers):
        args = (space, url, opts.study, target, i, opts.calibration, opts.heartbeat_s, errors)
        procs.append(ctx.Process(target=_worker_main, args=(args,), daemon=False))
    for i, p in enumerate(procs):
        with _visible_device(opts.gpus[i] if opts.gpus else None):
            p.start()  # a spawned child copies the environment when it starts
    try:
        while any(p.is_alive() for p in procs):
            if progress:  # the workers ride out a database restart; so does the progress bar
                progress(retrying(lambda: _progress_of(space, study, target), what="progress"))
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
        progress(_progress_of(space, study, target))
    messages: dict[int, str] = {}
    while not errors.empty():
        index, line = errors.get()
        messages[index] = line
    if messages:
        index = min(messages)
        where = f" (device {opts.gpus[index]})" if opts.gpus else ""
        raise SearchError(f"worker {index}{where}: {messages[index]}")
    bad = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode]
    if not bad:
        return []
    if not st.is_local(url) and len(st.finished(study)) >= target:
        return [
            f"worker {i} ended with exit code {code}; its running trial was failed by the "
            "heartbeat and re-run by the others"
            for i, code in bad
        ]
    codes = [code for _, code in bad]
    raise SearchError(f"{len(bad)} of {opts.workers} workers failed (exit codes {codes})")


@contextmanager
def _visible_device(device: str | None) -> Iterator[None]:
    """``CUDA_VISIBLE_DEVICES=device`` in this process's environment for the duration."""
    if device is None:
        yield
        return
    old = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = device
    try:
        yield
    finally:
        if old is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = old


def _worker_main(args: tuple[Any, ...]) -> None:  # pragma: no cover - runs in a child process
    import sys

    from hirisearch.errors import HirisearchError
    from hirisearch.ops.search.engine import work_shared

    space, url, name, target, offset, calibration_file, heartbeat_s, errors = args
    try:
        calibration = load_space_calibration(space, calibration_file)
        work_shared(
            space,
            url,
            name,
            target,
            seed_offset=offset,
            calibration=calibration,
            heartbeat_s=heartbeat_s,
        )
    except KeyboardInterrupt:
        pass
    except HirisearchError as e:  # the parent raises it as one line
        errors.put((offset, e.one_line()))
        sys.exit(1)


def records_of(study: Any, space: SearchSpace) -> list[TrialRecord]:
    """Every trial of the study, flattened."""
    from hirisearch.ops.search import storage as st
    from hirisearch.ops.search.storage import TrialState

    names = [o.name for o in space.objectives]
    labels = bound_labels(space.budgets)
    out = []
    for t in st.trials(study):
        attrs = t.user_attrs.get(st.ATTR) or {}
        complete = t.state == TrialState.COMPLETE
        vals = t.values if complete and t.values else [None] * len(names)
        error = attrs.get("error") or ("surplus" if t.user_attrs.get(st.SURPLUS) else None)
        if error is None and attrs.get("pruned"):
            error = f"pruned at step {attrs.get('step')}"
        if error is None and not complete:
            error = "interrupted"
        out.append(
            TrialRecord(
                number=t.number,
                state=t.state.name,
                values=dict(t.params),
                valid=bool(attrs.get("valid", False)),
                feasible=bool(attrs.get("feasible", False)) and complete,
                error=error,
                params=attrs.get("params"),
                macs=attrs.get("macs"),
                acts=attrs.get("acts"),
                objectives={
                    n: (v if v is None or math.isfinite(v) else None)
                    for n, v in zip(names, vals, strict=True)
                },
                slack=dict(zip(labels, attrs.get("slack") or [], strict=False)),
                worker=attrs.get("worker"),
                latency_ms=attrs.get("latency_ms"),
                predicted_interval_ms=_span(attrs.get("predicted_interval_ms")),
            )
        )
    return out


def _span(value: Any) -> tuple[float, float] | None:
    """A stored interval (a list in the trial's attributes) as ``(low, high)``."""
    return None if value is None else (float(value[0]), float(value[1]))


def _pruned(r: TrialRecord) -> bool:
    """Pruned by the space's pruner (a surplus trial is PRUNED too, but counts as failed)."""
    return r.state == "PRUNED" and (r.error or "").startswith("pruned")


def _results(
    space: SearchSpace,
    study: Any,
    opts: SearchOptions,
    url: str,
    target: int,
    ctx: EvalContext,
    interrupted: bool,
    worker_notes: list[str] | None = None,
) -> tuple[SearchResult, list[TrialRecord]]:
    from hirisearch.ops.search import storage as st

    records = records_of(study, space)
    front = front_of(records, space)
    notes: list[str] = list(worker_notes or [])
    entries = pareto_entries(space, front, opts.out, ctx, verify=opts.verify, notes=notes)
    result = search_result(
        space,
        ctx,
        opts.out,
        entries,
        any_feasible=bool(front),
        study=study.study_name,
        storage=st.redact(url),
        strategy=space.strategy,
        requested=target,
        complete=sum(r.state == "COMPLETE" for r in records),
        pruned=sum(_pruned(r) for r in records),
        failed=sum(r.state != "COMPLETE" and not _pruned(r) for r in records),
        feasible=sum(r.feasible for r in records),
        interrupted=interrupted,
        notes=notes,
    )
    return result, records
