"""Exact mode: the vectorised metrics are the scalar analytic model's, on every shipped space; the
chunked front is the brute-force front; every registered strategy keeps the strategy contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hirisearch.latency.predict import predict_latency_ms
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.enumeration import sweep
from hirisearch.ops.search.exact import Model, values_at
from hirisearch.ops.search.pareto import dominates, front_mask
from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from hirisearch.ops.search.strategies import STRATEGIES
from hirisearch.report.run.save import save_run
from tests.latency.calibrations import synthetic_calibration
from tests.search.conftest import ROOT, write_space

SPACES = sorted((ROOT / "specs" / "search").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_vectorised_metrics_are_the_scalar_model(path: Path) -> None:
    space = load_space(path)
    cal = synthetic_calibration()
    model = Model(space, cal)
    rng = np.random.default_rng(0)
    # 10,000 distinct random configurations (every configuration of a smaller space)
    n = min(10_000, model.size)
    idx = np.sort(rng.choice(model.size, size=n, replace=False))
    digits = [(idx // s) % r for s, r in zip(model.strides, model.radix, strict=True)]
    ok, _ = model.valid(digits, n)
    where = np.flatnonzero(ok)
    m = model.metrics([d[where] for d in digits], len(where))
    pos = {int(j): k for k, j in enumerate(where)}
    checked_latency = 0
    for j in range(n):
        cand = evaluate(space, values_at(model, int(idx[j])))
        assert bool(ok[j]) == cand.valid, (values_at(model, int(idx[j])), cand.error)
        if not cand.valid:
            continue
        k = pos[j]
        c = cand.cost
        assert int(m["params"][k]) == c.params
        assert abs(int(m["macs"][k]) - c.macs) <= 1e-9 * c.macs
        assert int(m["acts"][k]) == c.acts
        if checked_latency < 300:  # the scalar prediction walks the tree: a sample suffices
            want = predict_latency_ms(cand.tree, cal, family=space.base["family"])
            assert m["latency_ms"][k] == pytest.approx(want, rel=1e-9)
            checked_latency += 1
    assert len(where) > 0


def test_front_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    for m in (2, 3):
        for _ in range(30):
            pts = rng.integers(0, 6, size=(300, m)).astype(float)
            keys = rng.permutation(300).astype(np.int64)
            keep = front_mask(pts, keys)
            want = set()
            for p in pts:
                if any(dominates(q, p) for q in pts):
                    continue
                same = [j for j in range(len(pts)) if (pts[j] == p).all()]
                want.add(min(same, key=lambda j: keys[j]))
            assert set(np.flatnonzero(keep).tolist()) == want


def _brute_front(space, budget: float) -> set[tuple]:  # noqa: ANN001
    pts = {}
    for combo in space.grid():
        c = evaluate(space, dict(zip((a.path for a in space.axes), combo, strict=True)))
        if c.valid and c.cost.macs / 1e9 <= budget:
            pts[combo] = (float(c.cost.params), c.cost.macs / 1e9)
    return {k for k, p in pts.items() if not any(dominates(q, p) for q in pts.values())}


def test_exact_run_is_the_brute_force_front_with_counts(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path, strategy="exact"))
    found = sweep(Model(space), chunk=7)  # many chunks: the merge of chunk fronts is exercised
    got = {tuple(values_at(Model(space), int(i)).values()) for i in found.front_index}
    assert got == _brute_front(space, 0.26)
    result = run_search(space, SearchOptions(out=tmp_path / "run", trials=1, verify=False))
    save_run(result, result.run_dir)  # results.json, results.csv, the reports
    assert {tuple(e.record.values.values()) for e in result.pareto} == got
    x = result.exact
    assert x is not None and x["configurations"] == 48
    assert x["invalid"] == 48 - x["valid"] and sum(x["invalid_by_reason"].values()) == x["invalid"]
    assert x["valid"] - x["feasible"] == x["outside_by_bound"]["gmacs<=0.26"] > 0
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert doc["run"]["exact"]["feasible"] == x["feasible"]
    assert len(doc["trials"]) == len(got) and all(t["pareto"] for t in doc["trials"])
    assert len(list((tmp_path / "run" / "pareto").glob("*.yaml"))) == len(got)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategy_contract(tmp_path: Path, name: str) -> None:
    """Every registered strategy: accepts a finite space, runs to the requested (or, exhaustive:
    every) configuration, records Optuna constraints, and only feasible configurations reach the
    front; an exhaustive strategy's front is the brute-force front."""
    strategy = STRATEGIES[name]
    space = load_space(write_space(tmp_path, strategy=name))
    strategy.check(space)
    result = run_search(space, SearchOptions(out=tmp_path / "run", trials=6, verify=False))
    assert result.strategy == name
    assert result.complete == strategy.trials(space, 6)
    assert all(e.record.feasible and e.record.macs <= 0.26e9 for e in result.pareto)
    if strategy.exhaustive:
        got = {tuple(e.record.values[a.path] for a in space.axes) for e in result.pareto}
        assert got == _brute_front(space, 0.26)


def test_space_loading_and_exact_mode_import_no_optuna_or_matplotlib() -> None:
    code = (
        "import sys; from hirisearch.ops.search.space import load_space; "
        "from hirisearch.ops.search.exact import Model; from hirisearch.ops.search.chain import run_sections; "
        f"s = load_space({str(SPACES[0])!r}); "
        "print(','.join(m for m in ('optuna', 'matplotlib', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().split(",") if out.stdout.strip() else []
    assert "optuna" not in loaded and "matplotlib" not in loaded
    models_only = subprocess.run(
        [sys.executable, "-c", "import sys, hirisearch.models; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    if models_only.stdout.strip() == "False":  # once the model registry is torch-free
        assert "torch" not in loaded
