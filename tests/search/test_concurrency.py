"""Several workers on one study: journal file storage (local) and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.search.conftest import COUNTS, cli, popen, write_space


def _check_once(study: optuna.Study, trials: int) -> tuple[int, int]:
    """Every requested trial recorded once: exactly ``trials`` COMPLETE, unique numbers."""
    all_trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in all_trials]
    assert len(numbers) == len(set(numbers))
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    assert len(complete) == trials
    ids = [t._trial_id for t in all_trials]
    assert len(ids) == len(set(ids))
    assert not [t for t in all_trials if t.state == TrialState.RUNNING]
    return len(complete), len(all_trials) - len(complete)


@pytest.mark.slow
def test_four_local_workers_on_the_journal_storage(tmp_path: Path) -> None:
    space = write_space(tmp_path, trials=40)
    out = tmp_path / "run"
    r = cli(
        "search", str(space), "--workers", "4", "--out", str(out), "--study", "j", "--no-verify"
    )
    assert r.returncode == 0, r.stderr
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(out / "study.journal")))
    study = optuna.load_study(study_name="j", storage=storage)
    complete, other = _check_once(study, 40)
    pids = {
        t.user_attrs["hirisearch"]["worker"] for t in study.trials if "hirisearch" in t.user_attrs
    }
    assert len(pids) >= 2, "the trials were not spread over several processes"
    COUNTS["journal, 4 workers: finished trials (requested 40), each recorded once"] = complete
    COUNTS["journal, 4 workers: surplus trials marked FAIL"] = other


@pytest.mark.slow
@pytest.mark.parametrize("workers", [3, 4])
def test_worker_processes_share_one_postgresql_study(
    tmp_path: Path, postgres_url: str, workers: int
) -> None:
    trials = 30
    space = write_space(tmp_path, trials=trials)
    name = f"pg{workers}"
    optuna.storages.RDBStorage(postgres_url)  # create the tables once, as the recipe says
    procs = [
        popen("search", str(space), "--storage", postgres_url, "--study", name,
              "--out", str(tmp_path / f"w{i}"), "--no-verify", "--json")
        for i in range(workers)
    ]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name=name, storage=postgres_url)
    complete, other = _check_once(study, trials)
    pids = {
        t.user_attrs["hirisearch"]["worker"] for t in study.trials if "hirisearch" in t.user_attrs
    }
    assert len(pids) >= 2
    COUNTS[f"postgresql, {workers} workers: finished trials (requested 30), each recorded once"] = (
        complete
    )
    COUNTS[f"postgresql, {workers} workers: surplus trials marked FAIL"] = other


def test_sqlite_with_several_workers_is_refused(tmp_path: Path) -> None:
    space = write_space(tmp_path)
    r = cli("search", str(space), "--workers", "2", "--storage", f"sqlite:///{tmp_path}/s.db",
            "--out", str(tmp_path / "run"))  # fmt: skip
    assert r.returncode == 2
    assert "SQLite locks the whole database" in r.stderr and "Traceback" not in r.stderr
