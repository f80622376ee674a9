"""Prediction intervals: the log-space math, the held-out residuals and repeatability they come
from, the stated fallback, storage, and that an interval holds what it states."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hirisearch.errors import CalibrationError
from hirisearch.latency import predictor as pr
from hirisearch.latency.heldout import (
    Residual,
    error_models,
    held_out_residuals,
    repeatability,
    with_intervals,
)
from hirisearch.latency.interval import (
    FALLBACK,
    ErrorModel,
    Intervals,
    Prediction,
    check_coverage,
    z_of,
)
from hirisearch.latency.networks import network_benchmarks
from hirisearch.latency.predict import (
    Calibration,
    interval_of,
    predict_interval,
    predict_latency_ms,
)
from hirisearch.models import get_family
from tests.latency.calibrations import uniform_calibration


def test_normal_quantiles() -> None:
    assert z_of(0.9) == pytest.approx(1.6449, abs=1e-4)
    assert z_of(0.5) == pytest.approx(0.6745, abs=1e-4)
    assert z_of(0.99) == pytest.approx(2.5758, abs=1e-4)


@pytest.mark.parametrize("bad", [0, 1, 1.2, -0.1, "0.9", float("nan")])
def test_coverage_outside_zero_one_is_refused(bad) -> None:
    with pytest.raises(CalibrationError, match=r"`0 < coverage < 1` must hold, but got"):
        check_coverage(bad)


def test_interval_is_log_symmetric_about_the_center() -> None:
    m = ErrorModel(n=9, center=0.05, spread=0.1, repeat=0.0, rounds=3)
    sigma = 0.1 * math.sqrt(1 + 1 / 9)
    assert m.sigma == pytest.approx(sigma)
    lo, hi = m.factors(0.9)
    assert math.log(hi) - 0.05 == pytest.approx(1.6449 * sigma, rel=1e-4)
    assert 0.05 - math.log(lo) == pytest.approx(1.6449 * sigma, rel=1e-4)
    wider = m.factors(0.99)
    assert wider[0] < lo and wider[1] > hi


def test_repeatability_adds_what_the_residuals_do_not_hold() -> None:
    # A residual holds the calibration's own noise (a median of three rounds): a new measurement
    # adds one round's variance less that third.
    m = ErrorModel(n=1000, center=0.0, spread=0.03, repeat=0.06, rounds=3)
    assert m.sigma == pytest.approx(math.sqrt((0.03**2 + 0.06**2 * 2 / 3) * 1.001))


def test_repeatability_is_the_pooled_spread_of_log_round_times() -> None:
    sd, dof = repeatability([[100.0, 110.0, 90.0], [50.0], [20.0, 22.0]])
    logs = [np.log([100.0, 110.0, 90.0]), np.log([20.0, 22.0])]
    ss = sum(((x - x.mean()) ** 2).sum() for x in logs)
    assert dof == 3 and sd == pytest.approx(math.sqrt(ss / 3))
    assert repeatability([[5.0], [7.0]]) == (0.0, 0)


def test_error_models_per_family_and_generic() -> None:
    res = [Residual("a", 110.0, 100.0, 90.0) for _ in range(3)]
    res += [Residual("a", 95.0, 100.0, 90.0), Residual("b", 100.0, 100.0, 100.0)]
    iv = error_models(res, [[1.0, 1.0]] * 5)
    a = iv.families["a"]
    assert a.n == 4 and a.center == pytest.approx(math.log(1.1))
    errs = np.log([1.1, 1.1, 1.1, 0.95])
    assert a.spread == pytest.approx(math.sqrt(((errs - math.log(1.1)) ** 2).sum() / 3))
    assert a.repeat == 0.0 and a.rounds == 2
    assert iv.generic is not None and iv.generic.n == 5
    # Too few networks of its own: a family gets the generic model; no models: the fallback.
    assert iv.model("a") == (a, "held-out a")
    assert iv.model("b") == (iv.generic, "held-out (all families)")
    assert iv.model(None)[1] == "held-out (all families)"
    assert Intervals().model("a") == (FALLBACK, "fallback")


def test_fallback_is_stated_and_never_zero_width() -> None:
    cal = uniform_calibration()
    assert cal.intervals is None
    p = interval_of(100.0, cal, family="vit")
    assert p.fallback and p.basis == "fallback"
    assert p.low_ms == pytest.approx(80.0, rel=1e-3) and p.high_ms == pytest.approx(125.0, rel=1e-3)


def test_held_out_residuals_recover_a_family_offset() -> None:
    """Networks 'measured' as the models predict, one family 25% slower: every network left out
    is predicted from the others within rounding, the family's factor included."""
    cal = uniform_calibration()
    nets = [mb for mb in network_benchmarks([get_family("vit"), get_family("swin")])]
    slower = {"swin": 1.25}
    measured = [
        (mb.tree, slower.get(mb.family, 1.0) * predict_latency_ms(mb.tree, cal), mb.family)
        for mb in nets
    ]
    res = held_out_residuals(measured, cal)
    assert len(res) == len(nets)
    assert all(abs(r.log_error) < 0.01 for r in res)
    swin = [r.generic_log_error for r in res if r.family == "swin"]
    vit = [r.generic_log_error for r in res if r.family == "vit"]
    assert np.median(swin) - np.median(vit) == pytest.approx(math.log(1.25), abs=0.02)


def test_with_intervals_and_its_round_trip(tmp_path) -> None:
    cal = uniform_calibration()
    nets = network_benchmarks([get_family("vit"), get_family("resformer")])
    rng = np.random.default_rng(1)
    measured = [
        (mb.tree, predict_latency_ms(mb.tree, cal) * math.exp(rng.normal(0, 0.05)), mb.family)
        for mb in nets
    ]
    rounds = [[ms * math.exp(rng.normal(0, 0.02)) for _ in range(3)] for _, ms, _ in measured]
    fitted = with_intervals(cal, measured, rounds)
    assert fitted.intervals is not None and set(fitted.intervals.families) == {"vit", "resformer"}
    assert 0 < fitted.intervals.families["vit"].repeat < 0.05
    assert with_intervals(cal, measured[:2], rounds[:2]) is cal  # nothing to hold out
    path = pr.save_calibration(fitted, tmp_path / "cal.json")
    loaded = pr.load_calibration("cpu", path)
    assert loaded.intervals == fitted.intervals
    tree = nets[0].tree
    p = predict_interval(tree, loaded, family="vit", coverage=0.8)
    assert p.basis == "held-out vit" and p.coverage == 0.8
    assert p.ms == predict_latency_ms(tree, loaded, family="vit")
    assert p.low_ms < p.ms < p.high_ms
    assert p.to_json() == {
        "predicted_ms": p.ms,
        "predicted_interval_ms": [p.low_ms, p.high_ms],
        "predicted_coverage": 0.8,
        "predicted_interval_basis": "held-out vit",
    }
    # A file written before the intervals existed loads, and its predictions state the fallback.
    doc = json.loads(path.read_text())
    del doc["intervals"]
    path.write_text(json.dumps(doc))
    old = pr.load_calibration("cpu", path)
    assert old.intervals is None and predict_interval(tree, old, family="vit").fallback
    # Intervals of another version are not read as this one's.
    assert Intervals.from_json({**fitted.intervals.to_json(), "version": 99}) is None


def test_stated_coverage_holds_on_fresh_draws() -> None:
    """Residuals and round times drawn from a known error: a 90% interval built from them holds
    about 90% of new measurements (model error plus one round's noise)."""
    rng = np.random.default_rng(0)
    model_sd, round_sd, n = 0.06, 0.04, 400
    true = rng.normal(0, model_sd, n)
    rounds = [[math.exp(t + rng.normal(0, round_sd)) for _ in range(3)] for t in true]
    res = [Residual("x", float(np.median(r)), 1.0, 1.0) for r in rounds]
    model, _ = error_models(res, rounds).model("x")
    for coverage in (0.5, 0.8, 0.9):
        fresh = rng.normal(0, model_sd, 20_000) + rng.normal(0, round_sd, 20_000)
        p = Prediction.of(1.0, model, "held-out x", coverage)
        inside = np.mean((np.exp(fresh) >= p.low_ms) & (np.exp(fresh) <= p.high_ms))
        assert inside == pytest.approx(coverage, abs=0.03), coverage


def test_calibration_accepts_no_intervals_field() -> None:
    doc = Calibration("cpu", "x", "t", 1, "now", {"conv": (1.0, 0.0, 0.0, 0.0)}).to_json()
    assert doc["intervals"] is None
    assert Calibration.from_json(doc).intervals is None


def test_calibrate_states_each_familys_interval() -> None:
    from hirisearch.report.terminal.bench import interval_line

    iv = Intervals({"vit": ErrorModel(n=12, center=0.0, spread=0.05, repeat=0.0)})
    lo, hi = iv.families["vit"].factors(0.9)
    assert interval_line(iv) == f"90% intervals (held-out networks): vit x{lo:.2f}-{hi:.2f}"
