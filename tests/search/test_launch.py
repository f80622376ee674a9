"""From a search request's words to its options: the run folder (given, new, the latest to
resume), the defaults, ``--gpus``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hirisearch.ops.search.launch import parse_gpus, run_dir_for, search_options
from hirisearch.ops.search.space import load_space
from hirisearch.ops.search.types import SearchError
from tests.search.conftest import write_space


def test_out_wins(tmp_path: Path) -> None:
    assert run_dir_for("s.yaml", out=tmp_path / "x", resume=True, storage=None) == tmp_path / "x"


def test_new_folder_named_after_the_space(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    d = run_dir_for("specs/search/s.yaml", out=None, resume=False, storage=None)
    assert d.parent == Path("reports") and d.name.startswith("s-")


def test_resume_finds_the_latest_run_with_a_study(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SearchError, match="--resume: no earlier run of s.yaml under reports/"):
        run_dir_for("s.yaml", out=None, resume=True, storage=None)
    for name, study in (("s-20260101-000000", True), ("s-20260102-000000", True), ("s-20260103-000000", False)):  # fmt: skip
        (tmp_path / "reports" / name).mkdir(parents=True)
        if study:
            (tmp_path / "reports" / name / "study.journal").write_text("")
    found = run_dir_for("s.yaml", out=None, resume=True, storage=None)
    assert found == Path("reports/s-20260102-000000")
    # a shared storage holds the study itself: resuming into a new folder is fine
    (tmp_path / "reports" / "s-20260102-000000" / "study.journal").unlink()
    (tmp_path / "reports" / "s-20260101-000000" / "study.journal").unlink()
    fresh = run_dir_for("s.yaml", out=None, resume=True, storage="postgresql://h/db")
    assert fresh.name.startswith("s-") and not fresh.exists()


def test_gpus() -> None:
    assert parse_gpus(None) == () and parse_gpus("0, 1") == ("0", "1")
    for bad in ("", "0,0", "0,,1", "0 1"):
        with pytest.raises(SearchError, match="--gpus must list distinct device ids"):
            parse_gpus(bad)


def test_defaults_are_filled_from_the_space(tmp_path: Path) -> None:
    path = str(write_space(tmp_path, "small.yaml"))
    space = load_space(path)
    opts = search_options(space, path, out=tmp_path / "run", gpus="2,3")
    assert (opts.trials, opts.study, opts.workers, opts.gpus) == (12, "small", 2, ("2", "3"))
    assert opts.out == tmp_path / "run" and opts.baselines == []
    api = search_options(space, path, out=tmp_path / "run", gpus=[0], trials=5, study="x")
    assert (api.trials, api.study, api.workers, api.gpus) == (5, "x", 1, ("0",))
