"""Batched journal writes survive a Ctrl-C in the middle of the write (nothing is lost, nothing is
recorded twice)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import create_trial

from hirisearch.ops.search import storage as st


def _trials(n: int) -> list:
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    return [create_trial(params={"x": i / n}, distributions=dist, value=float(i)) for i in range(n)]


def _on_file(journal: Path) -> int:
    study = optuna.load_study(
        study_name="t", storage=JournalStorage(JournalFileBackend(str(journal)))
    )
    return len(study.get_trials(deepcopy=False))


def test_an_interrupted_batch_is_written_by_the_next_flush(tmp_path, monkeypatch) -> None:
    journal = tmp_path / "study.journal"
    study = optuna.create_study(study_name="t", storage=st.open_storage(f"journal:{journal}"))
    st.add_trials(study, _trials(3))
    assert _on_file(journal) == 3
    real = JournalFileBackend.append_logs
    calls = []

    def interrupted(self, logs):  # Ctrl-C arrives as the batch is written
        calls.append(len(logs))
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(self, logs)

    monkeypatch.setattr(JournalFileBackend, "append_logs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        st.add_trials(study, _trials(4))
    assert _on_file(journal) == 3  # not written yet ...
    assert len(study.get_trials(deepcopy=False)) == 7  # ... though this process sees them
    st.flush_held()  # what the engine does on its way out
    assert _on_file(journal) == 7 and len(study.get_trials(deepcopy=False)) == 7
    st.flush_held()  # nothing left: nothing written twice
    assert _on_file(journal) == 7 and calls == [calls[0], calls[0]]
