"""The real optuna-dashboard server opens a finished run's journal and serves its study and trials
over its HTTP API; Optuna's own ``best_trials`` is the run's constrained front."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from hirisearch.search.run import SearchOptions, run_search
from hirisearch.search.space import load_space
from hirisearch.search.storage import open_storage
from tests.search.conftest import _free_port, write_space


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_dashboard_serves_a_finished_run(tmp_path: Path) -> None:
    pytest.importorskip("optuna_dashboard")
    space = load_space(write_space(tmp_path, strategy="tpe", trials=20))
    result = run_search(space, SearchOptions(out=tmp_path / "run", trials=20, verify=False))
    journal = tmp_path / "run" / "study.journal"
    study = optuna.load_study(study_name="search", storage=open_storage(f"journal:{journal}"))
    # Optuna keeps every trial of a tied point; the run keeps one configuration per point
    front = {tuple(e.record.objectives[o.name] for o in space.objectives) for e in result.pareto}
    assert {tuple(t.values) for t in study.best_trials} == front
    assert all(max(t.constraints.values()) <= 0 for t in study.best_trials)

    exe = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent / "optuna-dashboard")
    port = _free_port()
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
        assert len(trials) == 20 == result.complete
        by_number = {t.number: t for t in study.trials}
        for t in trials:
            assert t["params"] and t["state"] == "Complete"
            want = by_number[t["number"]]
            assert [p["name"] for p in t["params"]] == list(want.params)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
