"""Batched journal writes survive a Ctrl-C in the middle of the write (nothing is lost, nothing is
recorded twice, and the process's copy of the study stays the journal's)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import CodeType

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState, create_trial

from hirisearch.ops.search import engine
from hirisearch.ops.search import storage as st
from hirisearch.ops.search.space import load_space
from tests.search.conftest import COUNTS, sigint_at_line, write_space


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


def _written(trials: list) -> list[tuple]:
    """Each trial as what identifies it: its start time and configuration."""
    return [(t.datetime_start, tuple(sorted(t.params.items()))) for t in trials]


def _is_record(code: CodeType) -> bool:  # the single worker's callback that writes the batches
    return code.co_qualname == "work_in_memory.<locals>.record"


@pytest.mark.slow
def test_a_sigint_at_any_line_of_a_batch_write_records_the_batch_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The third finished trial sends the batch of three to the journal; SIGINT arrives before its
    # 1st line, its 2nd, ..., each in a run of its own. Every time the run stops, the study this
    # process holds is the journal's (results.json is made from it), and the journal holds the
    # batch once: the two trials that waited in it at least.
    monkeypatch.setattr(engine, "FLUSH_TRIALS", 3)
    monkeypatch.setattr(engine, "FLUSH_SECONDS", math.inf)
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # ~2,000 runs: durability is not tested
    space = load_space(write_space(tmp_path))
    k = 0
    while True:
        k += 1
        journal = tmp_path / f"{k}.journal"
        study = st.open_study(space, st.open_storage(f"journal:{journal}"), "t")
        interrupted = False
        with sigint_at_line(k, _is_record, nth=3) as landed:
            try:
                engine.work_in_memory(space, study, 6)
            except KeyboardInterrupt:
                interrupted = True
        if not landed:
            break  # the write ran fewer than k lines: every one of them was tried
        assert interrupted, f"SIGINT at {landed[0]} did not stop the run"
        on_file = optuna.load_study(
            study_name="t", storage=JournalStorage(JournalFileBackend(str(journal)))
        )
        recorded = _written(on_file.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        held = _written(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        assert held == recorded, f"SIGINT at {landed[0]}: this process and the journal disagree"
        assert len(set(recorded)) == len(recorded), f"SIGINT at {landed[0]}: written twice"
        assert 2 <= len(recorded) <= 3, f"SIGINT at {landed[0]}: {len(recorded)} trials recorded"
    COUNTS["Ctrl-C: lines of a batch write each interrupted, the batch recorded whole"] = k - 1
    assert k > 100  # the write was reached and interrupted at each of its lines
