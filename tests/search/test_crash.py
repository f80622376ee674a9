"""Crash safety: SIGKILL at random moments, then --resume; Ctrl-C saves results (also when it lands
where Optuna is not safe from it); one run per folder.

Counts are printed (run pytest with -s to see them) so the totals can be reported.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path
from types import CodeType

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from tests.search.conftest import COUNTS, cli, popen, sigint_at_line, write_space

TRIALS = 1000


def _states(journal: Path) -> dict[str, list[int]]:
    """Trial numbers per state, read from the journal file with Optuna's public API."""
    if not journal.exists():
        return {}
    storage = JournalStorage(JournalFileBackend(str(journal)))
    try:
        study = optuna.load_study(study_name="t", storage=storage)
    except KeyError:  # the study is not created yet
        return {}
    out: dict[str, list[int]] = {}
    for t in study.get_trials(deepcopy=False):
        out.setdefault(t.state.name, []).append(t.number)
    return out


def _wait(cond, timeout: float = 240.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    space = write_space(tmp_path, trials=TRIALS, strategy="tpe")
    out = tmp_path / "run"
    db = out / "study.journal"
    rng = random.Random(20261122)
    kills, before = 0, 0
    args = ["search", str(space), "--out", str(out), "--study", "t", "--no-verify", "--json"]
    for attempt in range(4):
        proc = popen(*args, *(["--resume"] if attempt else []))
        try:
            # wait until this process has finished at least one trial, then a random moment more
            _wait(
                lambda n=before, p=proc: (
                    len(_states(db).get("COMPLETE", [])) > n or p.poll() is not None
                )
            )
            time.sleep(rng.uniform(0.0, 1.5))
        except BaseException:
            proc.kill()
            raise
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        done = _states(db).get("COMPLETE", [])
        assert len(done) >= before, "a finished trial was lost"
        assert len(done) == len(set(done))
        before = len(done)
    final = cli(*args, "--resume")
    assert final.returncode == 0, final.stderr
    states = _states(db)
    complete = states.get("COMPLETE", [])
    assert len(complete) == TRIALS == len(set(complete))
    assert "RUNNING" not in states
    doc = json.loads(final.stdout)
    assert doc["complete"] == TRIALS
    lines = json.loads((out / "results.json").read_text())["trials"]
    assert sum(r["state"] == "COMPLETE" for r in lines) == TRIALS
    lost = 0
    dup = len(complete) - len(set(complete))
    COUNTS["crash test: SIGKILLs then --resume"] = kills
    COUNTS["crash test: interrupted trials marked FAIL and re-run"] = len(states.get("FAIL", []))
    COUNTS[f"crash test: finished trials (requested {TRIALS})"] = len(complete)
    COUNTS["crash test: trials lost"] = lost
    COUNTS["crash test: trials duplicated"] = dup


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_saves_results(tmp_path: Path) -> None:
    space = write_space(tmp_path, trials=100000)
    out = tmp_path / "run"
    proc = popen("search", str(space), "--out", str(out), "--study", "t", "--no-verify")
    try:
        _wait(lambda: len(_states(out / "study.journal").get("COMPLETE", [])) >= 3)
        # a second search on the same folder is refused while the first runs
        second = cli("search", str(space), "--out", str(out), "--resume", "--no-verify")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    assert second.returncode == 3
    assert "another hirisearch run is writing to this folder" in second.stderr
    assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted;" in err and "--resume --out" in err
    assert "Traceback" not in err
    states = _states(out / "study.journal")
    assert "RUNNING" not in states
    doc = json.loads((out / "results.json").read_text())
    assert doc["run"]["interrupted"] is True
    assert doc["run"]["complete"] == len(states["COMPLETE"])
    assert sum(t["state"] == "COMPLETE" for t in doc["trials"]) == doc["run"]["complete"]


def _is_optuna_tell(code: CodeType) -> bool:  # Optuna's loop recording a finished trial
    return code.co_name == "_tell_with_warning" and "optuna" in code.co_filename


def _is_journal_replay(code: CodeType) -> bool:  # a journal's trial being replayed in memory
    return code.co_name == "_apply_create_trial" and "optuna" in code.co_filename


def _opts(tmp_path: Path, **kw: object) -> SearchOptions:
    return SearchOptions(out=tmp_path / "run", study="t", verify=False, **kw)  # type: ignore[arg-type]


def test_ctrl_c_as_optuna_records_a_finished_trial_saves_results(tmp_path: Path) -> None:
    # Optuna's trial loop turns a KeyboardInterrupt that lands while it records a finished trial
    # into UnboundLocalError: the search still stops as interrupted, with what the journal holds,
    # and a resumed search goes on from there.
    space = load_space(write_space(tmp_path, trials=20))
    with sigint_at_line(1, _is_optuna_tell, nth=4) as landed:
        result = run_search(space, _opts(tmp_path, trials=20))
    assert landed
    assert result.interrupted
    assert result.complete == len(_states(tmp_path / "run" / "study.journal")["COMPLETE"]) == 3
    resumed = run_search(space, _opts(tmp_path, trials=20, resume=True))  # from what was recorded
    complete = _states(tmp_path / "run" / "study.journal")["COMPLETE"]
    assert resumed.complete == len(complete) == len(set(complete)) == 20


@pytest.mark.slow
def test_ctrl_c_while_reading_the_workers_trials_saves_what_the_journal_holds(
    tmp_path: Path,
) -> None:
    # The Ctrl-C lands in the parent of two workers as it replays a trial a worker wrote (Optuna
    # has counted the log as read, not yet applied it): the results are read afresh.
    space = load_space(write_space(tmp_path, trials=8))
    with sigint_at_line(1, _is_journal_replay) as landed:
        result = run_search(space, _opts(tmp_path, trials=8, workers=2), progress=lambda _: None)
    assert landed
    assert result.interrupted
    states = _states(tmp_path / "run" / "study.journal")
    assert result.complete == len(states["COMPLETE"]) and "RUNNING" not in states
