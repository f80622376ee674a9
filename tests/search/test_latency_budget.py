"""A latency budget with a confidence bounds the upper end of the predicted latency's interval, in
every strategy, the exact mode's section-wise front included; its schema's errors are one line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from hirisearch.errors import SpecError
from hirisearch.latency.predict import interval_of, predict_latency_ms, save_calibration
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.exact import Model
from hirisearch.ops.search.metrics import METRICS, EvalContext
from hirisearch.ops.search.pareto import dominates
from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from hirisearch.ops.search.strategies import STRATEGIES
from hirisearch.ops.search.types import BudgetSpec
from tests.latency.calibrations import synthetic_calibration
from tests.search.conftest import ROOT, cli, write_space


def _space(tmp: Path, budget: dict, **changes: object) -> Path:
    return write_space(tmp, budgets={"latency_ms": budget}, **changes)


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"max": 150, "confidence": 1.5}, "`0 < confidence < 1` must hold, but got confidence=1.5"),
        ({"max": 150, "confidence": 0}, "`0 < confidence < 1` must hold, but got confidence=0"),
        ({"max": 150, "confidence": "high"}, "`confidence` must be a finite number"),
        ({"min": 10, "confidence": 0.9}, "it takes `max` only"),
        ({"max": 150, "min": 10, "confidence": 0.9}, "it takes `max` only"),
    ],
)
def test_bad_confidence_is_one_line(tmp_path: Path, budget: dict, message: str) -> None:
    with pytest.raises(SpecError, match="budgets.latency_ms") as err:
        load_space(_space(tmp_path, budget))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_confidence_belongs_to_latency(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="`confidence` applies to latency_ms and latency_upper_ms"):
        load_space(write_space(tmp_path, budgets={"gmacs": {"max": 1, "confidence": 0.9}}))
    both = {"latency_ms": {"max": 9, "confidence": 0.9}, "latency_upper_ms": {"max": 9}}
    with pytest.raises(SpecError, match="keep one of them"):
        load_space(write_space(tmp_path, budgets=both))
    res = cli("search", str(_space(tmp_path, {"max": 150, "confidence": 2})))
    err = res.stderr.strip()
    assert res.returncode != 0 and len(err.splitlines()) == 1 and "confidence=2" in err


def test_a_confidence_budget_bounds_the_upper_end(tmp_path: Path) -> None:
    space = load_space(_space(tmp_path, {"max": 150, "confidence": 0.8}))
    assert space.budgets == (BudgetSpec("latency_upper_ms", 150, None, 0.8),)
    cal = synthetic_calibration()
    ctx = EvalContext.of(space, cal)
    assert ctx.confidence == 0.8
    cand = evaluate(space, {})
    ms = predict_latency_ms(cand.tree, cal, family="hiri_vit")
    want = interval_of(ms, cal, family="hiri_vit", coverage=0.8).high_ms
    assert METRICS["latency_upper_ms"].scalar(cand, ctx) == pytest.approx(want, rel=1e-12)
    assert want > ms  # the synthetic HIRI-ViT error model is not the fallback's
    assert EvalContext.of(load_space(write_space(tmp_path))).confidence == 0.9  # the default


def _calibrated(tmp: Path) -> tuple[Path, object]:
    """The synthetic calibration, scaled so that the small space's configurations take 3-6 ms."""
    cal = synthetic_calibration()
    cal = replace(cal, coeffs={c: tuple(30 * v for v in k) for c, k in cal.coeffs.items()})
    return save_calibration(cal, tmp / "cal.json"), cal


def _uppers(space, cal) -> dict[tuple, tuple[float, float, float]]:  # noqa: ANN001
    """Every valid configuration's params, predicted latency and interval upper end."""
    ctx = EvalContext.of(space, cal)
    out = {}
    for combo in space.grid():
        c = evaluate(space, dict(zip((a.path for a in space.axes), combo, strict=True)))
        if c.valid:
            point = METRICS["latency_ms"].scalar(c, ctx)
            out[combo] = (float(c.cost.params), point, METRICS["latency_upper_ms"].scalar(c, ctx))
    return out


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_keeps_the_upper_end_within_the_budget(tmp_path: Path, name: str) -> None:
    path, cal = _calibrated(tmp_path)
    probe = load_space(write_space(tmp_path, budgets={}))
    every = _uppers(probe, cal)
    limit = sorted(u for _, _, u in every.values())[len(every) // 2]  # half the space within
    # The bound is the upper end, not the prediction: some configurations are inside by their
    # prediction and outside by their interval.
    assert any(p <= limit < u for _, p, u in every.values())
    space = load_space(
        _space(
            tmp_path,
            {"max": limit, "confidence": 0.9},
            strategy=name,
            objectives=[{"maximize": "params"}, {"minimize": "latency_ms"}],
        )
    )
    result = run_search(
        space, SearchOptions(out=tmp_path / "run", trials=12, verify=False, calibration=path)
    )
    assert result.pareto and result.predicted_coverage == 0.9
    for e in result.pareto:
        r = e.record
        low, high = r.predicted_interval_ms
        assert r.feasible and low < r.latency_ms < high <= limit
        assert high == pytest.approx(every[tuple(r.values[a.path] for a in space.axes)][2])
    if STRATEGIES[name].exhaustive:  # the brute-force front under the upper-end bound
        inside = {k: (-v[0], v[1]) for k, v in every.items() if v[2] <= limit}
        want = {k for k, p in inside.items() if not any(dominates(q, p) for q in inside.values())}
        assert {tuple(e.record.values[a.path] for a in space.axes) for e in result.pareto} == want


def test_the_section_wise_front_prunes_by_the_upper_end(tmp_path: Path) -> None:
    path, cal = _calibrated(tmp_path)
    every = _uppers(load_space(write_space(tmp_path, budgets={})), cal)
    limit = sorted(u for _, _, u in every.values())[len(every) // 2]
    space = load_space(
        _space(
            tmp_path,
            {"max": limit, "confidence": 0.9},
            strategy="exact",
            exact={"method": "sections"},
        )
    )
    model = Model(space, cal)
    assert model.upper_factor == pytest.approx(interval_of(1.0, cal, family="hiri_vit").high_ms)
    by_sections = run_search(
        space, SearchOptions(out=tmp_path / "a", trials=1, verify=False, calibration=path)
    )
    enum = load_space(
        _space(
            tmp_path,
            {"max": limit, "confidence": 0.9},
            strategy="exact",
            exact={"method": "enumerate"},
        )
    )
    enumerated = run_search(
        enum, SearchOptions(out=tmp_path / "b", trials=1, verify=False, calibration=path)
    )
    got = [e.record.values for e in by_sections.pareto]
    assert got == [e.record.values for e in enumerated.pareto] and got
    assert by_sections.exact["feasible"] == enumerated.exact["feasible"]
    assert by_sections.exact["feasible"] == sum(u <= limit for _, _, u in every.values())


def test_hiri_vit_5g_front_is_within_its_confidence_budget(tmp_path: Path) -> None:
    """The shipped space with its latency budget bounded at 90% confidence, searched by the
    CLI."""
    cal = synthetic_calibration()
    cal = replace(cal, coeffs={c: tuple(10 * v for v in k) for c, k in cal.coeffs.items()})
    save_calibration(cal, tmp_path / "calibration-cpu.json")
    shipped = ROOT / "specs" / "search" / "hiri_vit_5g.yaml"
    doc = yaml.safe_load(shipped.read_text())
    assert doc["budgets"]["latency_ms"] == {"max": 150.0}
    doc["base"] = str((shipped.parent / doc["base"]).resolve())
    doc["budgets"]["latency_ms"]["confidence"] = 0.9  # the upper end of the 90% interval
    path = tmp_path / "hiri_vit_5g_confidence.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    space = load_space(path)
    assert BudgetSpec("latency_upper_ms", 150.0, None, 0.9) in space.budgets
    res = cli(
        "search", str(path), "--json", "--out", str(tmp_path / "run"),
        env={"HIRISEARCH_CACHE": str(tmp_path)}, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["predicted_coverage"] == 0.9 and "latency_upper_ms<=150" in doc["budgets"]
    front = [e["record"] for e in doc["pareto"]]
    assert front
    for r in front:
        low, high = r["predicted_interval_ms"]
        assert low < r["latency_ms"] < high <= 150.0
    # The budget binds on the upper end: the front's slowest member is near it, and its
    # prediction well below it.
    slowest = max(front, key=lambda r: r["latency_ms"])
    assert slowest["predicted_interval_ms"][1] > 140 and slowest["latency_ms"] < 140
