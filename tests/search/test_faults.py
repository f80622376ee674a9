"""Faults of a 4-worker search on PostgreSQL: the server restarts, a worker is SIGKILLed mid-trial.

The study must end with exactly the requested number of finished trials (COMPLETE or pruned),
each counted once; the killed worker's trial is failed by the heartbeat and re-run, not lost.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.search.conftest import COUNTS, PostgresServer, popen, write_space

TRIALS = 12
#: An expensive objective: 8 steps of 0.25 s, reporting a loss; it marks the trial it is running.
SLOW_MODULE = """
import os
import time
from pathlib import Path

import hirisearch

HERE = Path(__file__).parent


def train(trial):
    mark = HERE / "running" / f"{os.getpid()}-{trial.number}"
    mark.parent.mkdir(exist_ok=True)
    mark.write_text("")
    loss = 10.0 + trial.axes["depths.3"]
    for step in range(8):
        time.sleep(0.25)
        loss *= 0.9
        trial.report(step, loss)
        if trial.should_prune():
            mark.unlink()
            raise hirisearch.Pruned()
    mark.unlink()
    return loss
"""


def _wait(cond, timeout: float, what: str) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _finished(url: str) -> int:
    try:
        study = optuna.load_study(study_name="f", storage=url)
    except Exception:  # noqa: BLE001 - not created yet, or the server is restarting
        return 0
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


@pytest.mark.slow
def test_postgres_restart_and_a_killed_worker_lose_and_duplicate_nothing(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    (tmp_path / "slow_objective.py").write_text(textwrap.dedent(SLOW_MODULE))
    space = write_space(
        tmp_path,
        objectives=[{"minimize": "slow_objective:train"}],
        budgets={"gmacs": {"max": 10.0}},
        pruner={"name": "median", "n_startup_trials": 3, "n_warmup_steps": 4},
        trials=TRIALS,
    )
    url = postgres_server.url
    optuna.storages.RDBStorage(url)  # create the tables once, as the recipe says
    running = tmp_path / "running"
    proc = popen("search", str(space), "--storage", url, "--study", "f", "--workers", "4",
                 "--heartbeat", "1", "--allow-code", "--out", str(tmp_path / "run"),
                 "--no-verify", "--json")  # fmt: skip
    try:
        _wait(lambda: _finished(url) >= 2, 90, "two finished trials")
        postgres_server.stop("fast")  # ends every connection, as a restart does
        time.sleep(2.0)
        postgres_server.start()
        # a worker in the middle of a trial: SIGKILL it
        _wait(lambda: running.exists() and any(running.iterdir()), 60, "a running trial")
        victim = next(iter(running.iterdir())).name
        pid, number = (int(x) for x in victim.split("-"))
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        assert (running / victim).exists(), "the worker was not in the middle of a trial"
        out, err = proc.communicate(timeout=120)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    study = optuna.load_study(study_name="f", storage=url)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    surplus = [t for t in trials if t.user_attrs.get("hirisearch:surplus")]
    counted = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE or (t.state == TrialState.PRUNED and t not in surplus)
    ]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert len(counted) == TRIALS
    # a re-run trial names the one it replaces; each original is counted once at most
    origin = [t.system_attrs.get("failed_trial", t.number) for t in counted]
    duplicated = len(origin) - len(set(origin))
    assert duplicated == 0
    rerun = {n for t in counted for n in t.system_attrs.get("retry_history", [])}
    killed = next(t for t in trials if t.number == number)
    assert killed.state == TrialState.FAIL, "the killed worker's trial was not failed"
    assert number in rerun, "the killed worker's trial was not re-run"
    assert {t.number for t in failed} <= rerun, "a failed trial was lost"
    doc = json.loads(out)
    assert doc["complete"] + doc["pruned"] == TRIALS
    assert any("exit code -9" in n for n in doc["notes"])
    pruned = sum(t.state == TrialState.PRUNED and t not in surplus for t in trials)
    COUNTS["faults (postgresql restart + SIGKILL, 4 workers): trials requested"] = TRIALS
    COUNTS["faults: finished (COMPLETE + pruned)"] = len(counted)
    COUNTS["faults: of which pruned"] = pruned
    COUNTS["faults: failed by the heartbeat and re-run"] = len(failed)
    COUNTS["faults: of which the SIGKILLed worker's trial"] = 1
    others = [t for t in failed if t.number != number]
    COUNTS["faults: of which others, with steps done when failed"] = sum(
        len(t.intermediate_values) for t in others
    )
    COUNTS["faults: surplus trials (asked beyond the count, not counted)"] = len(surplus)
    COUNTS["faults: duplicated"] = duplicated
