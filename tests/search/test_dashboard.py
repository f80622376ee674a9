"""The real optuna-dashboard server opens a finished run's journal and serves its study, its trials
and their constraints over its HTTP API; the constrained front these give (feasible = every
constraint <= 0, the rule of the dashboard's Pareto-front plot) is Optuna's own ``best_trials``,
which is the run's front. A 500-trial TPE run opened with Optuna's public API: ``best_trials`` is
the constrained front."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from hirisearch.ops.search.pareto import pareto_indices, to_minimise
from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from hirisearch.ops.search.storage import constraints_of, open_storage
from tests.search.conftest import free_port, write_space


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _front_numbers(trials: list, directions: list[str]) -> set[int]:
    """Numbers of the trials on the front (every trial of a tied point)."""
    points = [to_minimise(values, directions) for _, values in trials]
    best = {points[i] for i in pareto_indices(points)}
    return {number for (number, _), p in zip(trials, points, strict=True) if p in best}


#: The budget binds: without it the front would be the largest, over-budget configurations.
CAPACITY = [{"maximize": "params"}, {"minimize": "gmacs"}]


def _open(journal: Path) -> optuna.Study:
    return optuna.load_study(study_name="search", storage=open_storage(f"journal:{journal}"))


def test_dashboard_serves_a_finished_run_with_its_constraints(tmp_path: Path) -> None:
    pytest.importorskip("optuna_dashboard")
    space = load_space(write_space(tmp_path, strategy="tpe", trials=40, objectives=CAPACITY))
    result = run_search(space, SearchOptions(out=tmp_path / "run", trials=40, verify=False))
    journal = tmp_path / "run" / "study.journal"
    study = _open(journal)
    directions = [o.direction for o in space.objectives]
    # Optuna keeps every trial of a tied point; the run keeps one configuration per point
    front = {tuple(e.record.objectives[o.name] for o in space.objectives) for e in result.pareto}
    assert {tuple(t.values) for t in study.best_trials} == front
    assert all(max(t.constraints.values()) <= 0 for t in study.best_trials)
    infeasible = [t for t in study.trials if max(t.constraints.values()) > 0]
    assert infeasible and len(infeasible) < len(study.trials)

    exe = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent / "optuna-dashboard")
    port = free_port()
    proc = subprocess.Popen(
        [exe, str(journal), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                studies = _get(f"{base}/api/studies")["study_summaries"]
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("optuna-dashboard did not start within 30 s") from None
                time.sleep(0.2)
        (entry,) = studies
        assert entry["study_name"] == "search"
        detail = _get(f"{base}/api/studies/{entry['study_id']}")
        trials = detail["trials"]
        assert len(trials) == 40 == result.complete
        by_number = {t.number: t for t in study.trials}
        served = []
        for t in trials:
            assert t["params"] and t["state"] == "Complete"
            want = by_number[t["number"]]
            assert [p["name"] for p in t["params"]] == list(want.params)
            # the constraints the dashboard shows are the run's, one per bound plus validity
            assert t["constraints"] == list(constraints_of(study, want).values())
            feasible = all(c <= 0 for c in t["constraints"])
            assert feasible == want.user_attrs["hirisearch"]["feasible"]
            if feasible:
                values = [math.inf if v == "inf" else -math.inf if v == "-inf" else v
                          for v in t["values"]]  # fmt: skip
                served.append((t["number"], values))
        assert _front_numbers(served, directions) == {t.number for t in study.best_trials}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_500_tpe_trials_best_trials_is_the_constrained_front(tmp_path: Path) -> None:
    """The issue's symptom: Optuna's ``best_trials`` of a stored 500-trial TPE run was 134 trials
    (the unconstrained front) while the constrained front had 20."""
    space = load_space(write_space(tmp_path, strategy="tpe", trials=500, objectives=CAPACITY))
    result = run_search(space, SearchOptions(out=tmp_path / "run", trials=500, verify=False))
    study = _open(tmp_path / "run" / "study.journal")
    assert len(study.trials) == 500
    directions = [o.direction for o in space.objectives]
    feasible = [
        (t.number, list(t.values)) for t in study.trials if t.user_attrs["hirisearch"]["feasible"]
    ]
    everything = [(t.number, list(t.values)) for t in study.trials]
    want = _front_numbers(feasible, directions)
    assert {t.number for t in study.best_trials} == want
    assert want != _front_numbers(everything, directions)  # the budget changes the front
    front = {tuple(e.record.objectives[o.name] for o in space.objectives) for e in result.pareto}
    assert {tuple(t.values) for t in study.best_trials} == front
