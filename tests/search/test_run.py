"""Running searches in-process: trial accounting, the exact front, files, refusals, proxies."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest

from hirisearch.io import RunDir, RunDirBusyError
from hirisearch.models import get_family
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.pareto import dominates, pareto_indices
from hirisearch.ops.search.proxies import naswot, synflow
from hirisearch.ops.search.run import SearchError, SearchOptions, run_search
from hirisearch.ops.search.space import ProxySettings, load_space
from hirisearch.ops.search.storage import constraints_of, open_storage
from hirisearch.report.run.save import save_run
from hirisearch.spec import load_spec
from tests.search.conftest import write_space


def _opts(tmp: Path, **kw: object) -> SearchOptions:
    return SearchOptions(**{"out": tmp / "run", "trials": 12, "study": "t", "verify": False, **kw})  # type: ignore[arg-type]


def _study(tmp: Path) -> optuna.Study:
    return optuna.load_study(
        study_name="t", storage=open_storage(f"journal:{tmp / 'run' / 'study.journal'}")
    )


def _trials(tmp: Path) -> list[dict]:
    return json.loads((tmp / "run" / "results.json").read_text())["trials"]


def test_random_search_records_exactly_the_requested_trials(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path))
    result = run_search(space, _opts(tmp_path, verify=True))
    save_run(result, result.run_dir)  # results.json, results.csv, the reports
    states = [t.state for t in _study(tmp_path).trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 12 == result.complete
    assert len(_trials(tmp_path)) == 12
    csv_rows = (tmp_path / "run" / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 13 and csv_rows[0].startswith("number,state")
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert doc["run"]["complete"] == 12
    assert sorted(
        p.name for p in (tmp_path / "run").iterdir() if p.suffix in (".json", ".csv")
    ) == [
        "results.csv",
        "results.json",
    ]
    # every Pareto configuration: a ready spec, within budget by its traced count
    assert result.pareto
    for e in result.pareto:
        spec = load_spec(e.spec_file)
        fam = get_family(spec.family)
        cost = fam.cost(fam.plan(spec, None)).total
        assert cost.macs == e.record.macs and cost.params == e.record.params
        assert cost.macs / 1e9 <= 0.26
        assert e.traced is not None and e.traced.agrees and e.traced.within_budget
        assert e.traced.macs == cost.macs


def test_resume_continues_to_the_requested_count(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path))
    run_search(space, _opts(tmp_path, trials=5))
    with pytest.raises(SearchError, match="already holds a search; add --resume"):
        run_search(space, _opts(tmp_path, trials=9))
    result = run_search(space, _opts(tmp_path, trials=9, resume=True))
    assert result.complete == 9
    assert len({t.number for t in _study(tmp_path).trials}) == 9


def test_resume_with_a_changed_space_is_refused(tmp_path: Path) -> None:
    run_search(load_space(write_space(tmp_path)), _opts(tmp_path, trials=3))
    other = load_space(write_space(tmp_path, "b.yaml", budgets={"gmacs": {"max": 0.3}}))
    with pytest.raises(SearchError, match="different search space"):
        run_search(other, _opts(tmp_path, trials=5, resume=True))


def test_grid_returns_the_exact_front(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path, strategy="grid"))
    result = run_search(space, _opts(tmp_path))
    assert result.complete == 48
    # brute force, independently of the search: every valid configuration within budget
    fam = get_family("hiri_vit")
    pts = {}
    for combo in space.grid():
        values = dict(zip((a.path for a in space.axes), combo, strict=True))
        try:
            spec = fam.spec_type.model_validate(space.apply(values))
        except Exception:  # noqa: BLE001 - invalid combination
            continue
        c = fam.cost(fam.plan(spec, None)).total
        if c.macs <= 0.26e9:
            pts[combo] = (float(c.params), c.macs / 1e9)
    front = {k for k, p in pts.items() if not any(dominates(q, p) for q in pts.values())}
    got = {tuple(e.record.values[a.path] for a in space.axes) for e in result.pareto}
    assert got == front
    assert len(_study(tmp_path).trials) == 48
    # resuming a grid records nothing twice
    run_search(space, _opts(tmp_path, resume=True))
    assert len(_study(tmp_path).trials) == 48


def test_no_feasible_configuration_reports_the_cheapest(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path, budgets={"gmacs": {"max": 0.01}}))
    result = run_search(space, _opts(tmp_path, trials=4))
    assert result.pareto == []
    cheapest = result.cheapest
    assert cheapest["how"] == "exact"
    assert cheapest["macs"] == min(
        evaluate(space, dict(zip((a.path for a in space.axes), v, strict=True))).cost.macs
        for v in space.grid()
        if evaluate(space, dict(zip((a.path for a in space.axes), v, strict=True))).valid
    )


def test_busy_run_folder_and_unsafe_storage_are_refused(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path))
    with RunDir(tmp_path / "run"), pytest.raises(RunDirBusyError, match="another hirisearch run"):
        run_search(space, _opts(tmp_path))
    with pytest.raises(SearchError, match="SQLite locks the whole database"):
        run_search(space, _opts(tmp_path, storage=f"sqlite:///{tmp_path}/x.db", workers=2))


def test_tpe_and_nsga2_use_the_budget_as_a_constraint(tmp_path: Path) -> None:
    for strategy in ("tpe", "nsga2"):
        space = load_space(write_space(tmp_path, f"{strategy}.yaml", strategy=strategy))
        result = run_search(space, _opts(tmp_path / strategy, trials=8))
        assert result.complete == 8
        study = _study(tmp_path / strategy)
        for t in study.trials:
            # the list form Optuna and optuna-dashboard both read, its names in the study
            listed = t.system_attrs["constraints"]
            assert list(t.constraints.values()) == listed and len(listed) == 2
            named = constraints_of(study, t)
            assert list(named) == ["valid", "gmacs<=0.26"]
            attrs = t.user_attrs["hirisearch"]
            assert (max(named.values()) <= 0) == attrs["feasible"]
            if attrs["valid"]:
                assert named["gmacs<=0.26"] == pytest.approx(-attrs["slack"][0])


TINY = {
    "family": "hiri_vit",
    "name": "tiny",
    "img_size": 64,
    "stem_chs": 8,
    "block_types": ["hr", "hr", "transformer", "transformer", "transformer"],
    "depths": [1, 1, 1, 1, 1],
    "dims": [16, 16, 32, 32, 64],
    "num_heads": [0, 0, 2, 2, 2],
    "mlp_ratios": [2, 2, 2, 2, 2],
    "sr_ratios": [1, 1, 1, 1, 1],
}


def test_proxies_are_finite_deterministic_and_only_for_feasible(tmp_path: Path) -> None:
    fam = get_family("hiri_vit")
    spec = fam.spec_type.model_validate(TINY)
    settings = ProxySettings(img_size=64, batch=4)
    a, b = naswot(fam, spec, settings), naswot(fam, spec, settings)
    assert math.isfinite(a) and a == b
    s1 = synflow(fam, spec, settings)
    assert math.isfinite(s1) and s1 > 0
    space = load_space(
        write_space(
            tmp_path,
            base=TINY,
            img_size=64,
            axes={"depths.3": {"low": 1, "high": 3}, "dims.3": {"choices": [32, 64]}},
            budgets={"params_m": {"max": 0.2}},
            objectives=[
                {"maximize": "naswot"},
                {"maximize": "tests.search.user_objective:total_depth"},
            ],
            proxy={"img_size": 64, "batch": 4},
        )
    )
    result = run_search(space, _opts(tmp_path, trials=6, allow_code=True))
    save_run(result, result.run_dir)  # results.json, results.csv, the reports
    rows = _trials(tmp_path)
    assert any(r["feasible"] for r in rows)
    for r in rows:
        has = r["objectives"]["naswot"] is not None
        assert has == r["feasible"]
        if r["feasible"]:
            assert (
                r["objectives"]["tests.search.user_objective:total_depth"]
                == 4 + r["axes"]["depths.3"]
            )
    assert result.complete == 6


def test_pareto_indices_match_brute_force() -> None:
    import random

    rng = random.Random(0)
    for _ in range(50):
        pts = [(rng.randint(0, 5), rng.randint(0, 5), rng.randint(0, 3)) for _ in range(30)]
        got = {pts[i] for i in pareto_indices(pts)}
        want = {p for p in pts if not any(dominates(q, p) for q in pts)}
        assert got == want


def test_proxies_refuse_a_model_that_would_not_fit_before_building(monkeypatch) -> None:
    import dataclasses

    from hirisearch.errors import MemoryBudgetError
    from hirisearch.latency import device

    built: list[int] = []
    fam = dataclasses.replace(get_family("hiri_vit"), build=lambda *a, **k: built.append(1))
    spec = fam.spec_type.model_validate(TINY)
    monkeypatch.setattr(device, "available_memory_bytes", lambda dev: 1 << 20)  # 1 MiB
    for proxy in (naswot, synflow):
        with pytest.raises(MemoryBudgetError, match="proxy pass"):
            proxy(fam, spec, ProxySettings(img_size=64, batch=4))
    assert built == []
