"""User objectives: the trial object, pruning, --allow-code, --gpus, and the documented example."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hirisearch.errors import SpecError
from hirisearch.ops.search.retry import StorageLostError, is_connection_error, retrying
from hirisearch.ops.search.run import SearchError, SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from hirisearch.ops.search.storage import open_storage
from tests.search.conftest import ROOT, cli, write_space

EXAMPLE = ROOT / "examples" / "train_objective.py"
EXAMPLE_SPACE = ROOT / "examples" / "train_space.yaml"
DOC = ROOT / "docs" / "search.md"
#: One thread per process: the CI machine has 2 cores, shared by the test workers.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _opts(tmp: Path, **kw: object) -> SearchOptions:
    return SearchOptions(**{"out": tmp / "run", "trials": 8, "study": "t", "verify": False, **kw})  # type: ignore[arg-type]


def _study(run: Path, name: str = "t") -> optuna.Study:
    return optuna.load_study(
        study_name=name, storage=open_storage(f"journal:{run / 'study.journal'}")
    )


def _fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.S | re.M)


def test_the_doc_shows_the_example_files_verbatim() -> None:
    doc = DOC.read_text()
    assert EXAMPLE.read_text() in _fenced(doc, "python")
    assert EXAMPLE_SPACE.read_text() in _fenced(doc, "yaml")
    assert "hirisearch search examples/train_space.yaml --allow-code" in doc


def test_the_doc_example_trains_and_prunes(tmp_path: Path) -> None:
    """Exactly the documented command, on the documented files."""
    out = tmp_path / "run"
    r = cli("search", "examples/train_space.yaml", "--allow-code", "--out", str(out),
            "--no-verify", "--json", env=ONE_THREAD)  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["complete"] + doc["pruned"] == 8 == doc["requested"]
    assert doc["pruned"] >= 1 and doc["complete"] >= 2 and doc["failed"] == 0
    study = _study(out, "train_space")
    steps = 6  # examples/train_objective.py STEPS
    for t in study.trials:
        if t.state == TrialState.PRUNED:  # stopped early, its last reported loss is its value
            assert len(t.intermediate_values) < steps
            assert t.values == [t.intermediate_values[t.last_step]]
        else:
            assert t.state == TrialState.COMPLETE
            assert len(t.intermediate_values) == steps
            assert t.values == [t.intermediate_values[steps - 1]]
    rows = {r["number"]: r for r in json.loads((out / "results.json").read_text())["trials"]}
    for t in study.trials:
        assert rows[t.number]["feasible"] == (t.state == TrialState.COMPLETE)
        assert not (t.state == TrialState.PRUNED and rows[t.number]["pareto"])


def _stubborn_space(tmp: Path, **pruner: object) -> Path:
    (tmp / "stubborn.py").write_text(
        textwrap.dedent(
            """
            def keep_going(trial):
                # reports its depth, then ignores should_prune() and returns a value
                depth = float(trial.axes["depths.3"])
                trial.report(0, depth)
                trial.should_prune()
                trial.report(1, depth + 0.5)
                trial.should_prune()
                return depth + 1.0
            """
        )
    )
    return write_space(
        tmp,
        objectives=[{"minimize": "stubborn:keep_going"}],
        budgets={"gmacs": {"max": 10.0}},
        pruner={"name": "median", "n_startup_trials": 2, **pruner},
        trials=10,
    )


def test_should_prune_true_prunes_the_trial_even_when_the_function_returns(
    tmp_path: Path,
) -> None:
    space = load_space(_stubborn_space(tmp_path))
    assert space.pruner.name == "median"
    result = run_search(space, _opts(tmp_path, trials=10, allow_code=True))
    study = _study(tmp_path / "run")
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(pruned) + len(complete) == 10 == result.complete + result.pruned
    assert pruned and complete
    for t in pruned:  # recorded with the last reported value, not the returned one
        depth = t.params["depths.3"]
        assert t.values[0] in (depth, depth + 0.5)
        assert t.user_attrs["hirisearch"]["feasible"] is False
    for t in complete:
        assert t.values == [t.params["depths.3"] + 1.0]
    assert result.feasible == len(complete)
    assert {e.record.number for e in result.pareto} <= {t.number for t in complete}


def test_pruner_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="pruner.n_startup: unknown option of pruner median"):
        load_space(_stubborn_space(tmp_path, n_startup=2))
    with pytest.raises(SpecError, match=r"pruner.n_warmup_steps: must be an integer >= 0"):
        load_space(_stubborn_space(tmp_path, n_warmup_steps=-1))
    bad = write_space(tmp_path, "b.yaml", pruner="hyperband")  # two objectives
    with pytest.raises(SpecError, match="pruner: pruner hyperband needs exactly one objective"):
        load_space(bad)
    hb = write_space(
        tmp_path, "h.yaml", objectives=[{"minimize": "params"}],
        pruner={"name": "hyperband", "max_resource": "auto", "reduction_factor": 3},
    )  # fmt: skip
    assert dict(load_space(hb).pruner.options) == {"max_resource": "auto", "reduction_factor": 3}


MARKER_MODULE = """
from pathlib import Path

(Path(__file__).parent / "imported.marker").write_text("imported")


def depth(trial):
    return float(trial.spec.depths[3])
"""


def test_code_runs_only_with_allow_code(tmp_path: Path) -> None:
    (tmp_path / "marker_objective.py").write_text(MARKER_MODULE)
    space = write_space(tmp_path, objectives=[{"maximize": "marker_objective:depth"}], trials=3)
    marker = tmp_path / "imported.marker"
    for extra in ([], ["--dry-run"], ["--resume"]):
        r = cli("search", str(space), "--out", str(tmp_path / "run"), "--no-verify", *extra)
        assert not marker.exists(), (extra, r.stdout, r.stderr)
        if extra != ["--dry-run"]:
            assert r.returncode == 2, r.stderr
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
            assert lines[0] == (
                f"hirisearch: error: {space}: the objectives name code to import "
                "(marker_objective:depth); hirisearch runs code only when asked: add "
                "--allow-code if you trust it"
            )
    assert not (tmp_path / "run" / "study.journal").exists()
    r = cli("search", str(space), "--out", str(tmp_path / "run"), "--no-verify", "--json",
            "--allow-code")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert marker.read_text() == "imported"
    doc = json.loads(r.stdout)
    assert doc["complete"] == 3 and doc["feasible"] >= 1
    for row in json.loads((tmp_path / "run" / "results.json").read_text())["trials"]:
        if row["feasible"]:
            assert row["objectives"]["marker_objective:depth"] == row["axes"]["depths.3"]


def test_an_objective_that_cannot_be_imported_is_one_line(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path, objectives=[{"minimize": "no_such_mod_17:f"}]))
    with pytest.raises(SpecError) as info:
        run_search(space, _opts(tmp_path, allow_code=True))
    msg = info.value.one_line()
    assert msg.startswith(f"{space.file}: objectives[0]: cannot import module 'no_such_mod_17'")


GPU_MODULE = """
import os
from pathlib import Path


def where(trial):
    with open(Path(__file__).parent / "seen.txt", "a") as f:
        f.write(f"{os.getpid()} {os.environ.get('CUDA_VISIBLE_DEVICES')} {trial.gpu} "
                f"{trial.device}\\n")
    return float(sum(trial.spec.depths))
"""


def test_gpus_start_one_worker_per_device_each_seeing_only_its_own(tmp_path: Path) -> None:
    """On the CPU with a fake device list: every worker sees only its own device id."""
    (tmp_path / "gpu_objective.py").write_text(GPU_MODULE)
    space = write_space(tmp_path, objectives=[{"maximize": "gpu_objective:where"}], trials=8,
                        budgets={"gmacs": {"max": 10.0}})  # fmt: skip
    r = cli("search", str(space), "--gpus", "3,5", "--allow-code", "--out",
            str(tmp_path / "run"), "--no-verify", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["complete"] == 8
    seen: dict[str, set[tuple[str, ...]]] = {}
    for line in (tmp_path / "seen.txt").read_text().splitlines():
        pid, *devices = line.split()
        seen.setdefault(pid, set()).add(tuple(devices))
    per_worker = [next(iter(v)) for v in seen.values()]
    assert all(len(v) == 1 for v in seen.values()), seen  # one device per worker process
    if len(seen) == 2:  # both workers ran trials (almost always)
        assert sorted(d[0] for d in per_worker) == ["3", "5"]
    for visible, gpu, device in per_worker:
        assert visible == gpu and visible in ("3", "5") and device == "cpu"
    assert str(os.getpid()) not in seen  # the trials ran in the worker processes
    bad = cli("search", str(space), "--gpus", "0,1", "--workers", "3", "--allow-code",
              "--out", str(tmp_path / "r2"))  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--gpus 0,1 starts one worker per listed device, but --workers is 3" in bad.stderr
    dup = cli("search", str(space), "--gpus", "0,0", "--out", str(tmp_path / "r3"))
    assert dup.returncode == 2 and "distinct device ids" in dup.stderr


def test_storage_calls_are_retried_through_an_outage_then_give_up_in_one_line() -> None:
    from sqlalchemy.exc import OperationalError

    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        return 7

    assert retrying(flaky, what="testing") == 7 and len(calls) == 3
    assert not is_connection_error(ValueError("no"))

    def down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    with pytest.raises(StorageLostError) as info:
        retrying(down, what="recording trial 3", deadline_s=0.6)
    msg = info.value.one_line()
    assert msg.startswith("lost the connection to the storage while recording trial 3")
    assert "--resume" in msg and "\n" not in str(info.value)
    assert isinstance(info.value, SearchError)


DEVICE_MODULE = """
from pathlib import Path


def on(trial):
    model = trial.build()
    with open(Path(__file__).parent / "devices.txt", "a") as f:
        f.write(f"{trial.gpu} {next(model.parameters()).device}\\n")
    return float(trial.spec.depths[3])
"""


@pytest.mark.gpu
def test_on_a_gpu_build_puts_the_model_on_the_worker_device(tmp_path: Path) -> None:
    (tmp_path / "device_objective.py").write_text(DEVICE_MODULE)
    space = write_space(tmp_path, objectives=[{"maximize": "device_objective:on"}], trials=3,
                        budgets={"gmacs": {"max": 10.0}})  # fmt: skip
    r = cli("search", str(space), "--gpus", "0", "--allow-code", "--out", str(tmp_path / "run"),
            "--no-verify", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "devices.txt").read_text().splitlines()
    assert lines and all(line == "0 cuda:0" for line in lines), lines
