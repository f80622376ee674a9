"""Quick recalibration (``calibrate --quick``): an existing calibration adapted from a dozen whole
networks timed on this device."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from hirisearch.cli import app
from hirisearch.latency import calibration
from hirisearch.latency import predictor as pr
from hirisearch.latency.fit import adapt, fit_adaptation
from hirisearch.latency.heldout import ADAPTED_METHOD, adapted_intervals
from hirisearch.latency.networks import network_benchmarks
from hirisearch.latency.predict import load_calibration, predict_latency_ms, save_calibration
from hirisearch.models import FAMILIES, get_family
from tests.latency.calibrations import synthetic_calibration

runner = CliRunner()


def _device(base: pr.Calibration, speed: float, families: dict[str, float]) -> pr.Calibration:
    """A made-up device: every operator ``speed`` times the base's, some families slower still."""
    return replace(
        base,
        scales={c: base.scales.get(c, 1.0) * speed for c in base.coeffs},
        family_scales={
            f: base.family_scales.get(f, 1.0) * families.get(f, 1.0)
            for f in {*base.family_scales, *families}
        },
    )


def test_quick_networks_are_two_of_every_family() -> None:
    nets = calibration.quick_networks()
    assert len(nets) == 2 * len(FAMILIES)
    assert {mb.family for mb in nets} == set(FAMILIES)
    assert len({mb.name for mb in nets}) == len(nets)


def test_adaptation_recovers_known_scales() -> None:
    base = synthetic_calibration()
    truth = _device(base, 1.6, {"hrvit": 1.2})
    timed = [
        (mb.tree, predict_latency_ms(mb.tree, truth, family=mb.family), mb.family)
        for mb in calibration.quick_networks()
    ]
    g, factors, families = fit_adaptation(timed, base)
    # The speed-up of each family (the global factor and the family's, which a family's networks
    # alone do not tell apart); the category factors stay near the base's.
    for f in FAMILIES:
        want = 1.6 * (1.2 if f == "hrvit" else 1.0)
        assert g * families[f] == pytest.approx(want, rel=0.03), f
    assert all(v == pytest.approx(1.0, abs=0.03) for v in factors.values())
    # Every calibration network, the dozen timed or not, is predicted as the device runs it.
    adapted = adapt(timed, base)
    for mb in network_benchmarks():
        want = predict_latency_ms(mb.tree, truth, family=mb.family)
        assert predict_latency_ms(mb.tree, adapted, family=mb.family) == pytest.approx(
            want, rel=0.03
        ), mb.name


def _timed(truth: pr.Calibration, noise: list[float]) -> list[tuple]:
    """The quick networks as ``truth`` runs them, each times ``exp(noise[i])``."""
    nets = calibration.quick_networks()
    return [
        (mb.tree, predict_latency_ms(mb.tree, truth, family=mb.family) * math.exp(e), mb.family)
        for mb, e in zip(nets, noise, strict=True)
    ]


def test_adapted_intervals_are_measured_on_the_quick_networks() -> None:
    """A quick calibration's error model: each network predicted by the adaptation fitted on the
    others, families pooled. Timings the base explains exactly (up to the device's speed) give a
    near-zero spread; timings with a known log-normal error give that spread back."""
    base = synthetic_calibration()
    truth = _device(base, 1.6, {"hrvit": 1.2})
    n = len(calibration.quick_networks())
    rounds = [[1.0, 1.02, 0.98]] * n
    exact = adapted_intervals(_timed(truth, [0.0] * n), base, rounds)
    assert exact is not None and exact.method == ADAPTED_METHOD and exact.families == {}
    model, basis = exact.model("swin")
    assert basis == "held-out (all families)" and model.n == n and model.rounds == 3
    # (Not zero: with one of its two networks left out, a family's factor is held near the base's
    # by its prior, as the known-scales test above allows 3%.)
    assert model.spread < 0.03 and abs(model.center) < 0.01
    assert model.repeat == pytest.approx(0.02, rel=0.05)
    # A fixed draw of N(0, 0.1) per network: the held-out spread is of that size (leaving a
    # network out moves its family's factor, so held-out errors are a little larger).
    noise = [0.12, -0.05, 0.08, -0.15, 0.02, 0.10, -0.09, 0.04, -0.11, 0.07, -0.02, 0.13]
    noisy = adapted_intervals(_timed(truth, noise[:n]), base, rounds)
    assert noisy is not None
    spread = noisy.generic.spread
    assert 0.07 < spread < 0.25, spread
    assert adapted_intervals(_timed(truth, [0.0] * n)[:2], base, rounds[:2]) is None


def test_adaptation_refuses_no_timings() -> None:
    with pytest.raises(pr.CalibrationError, match="no network timings"):
        fit_adaptation([], synthetic_calibration())


def _quick(tmp_path, base: pr.Calibration, name: str) -> pr.Calibration:
    """``calibrate --quick --from <base>`` on this machine; the adapted calibration."""
    save_calibration(base, tmp_path / f"{name}-base.json")
    out = tmp_path / f"{name}.json"
    args = ["calibrate", "--quick", "--from", str(tmp_path / f"{name}-base.json")]
    res = runner.invoke(app, [*args, "--out", str(out), "--min-time", "0.01", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "adapted from" in res.stdout and f"{name}-base.json" in res.stdout
    return load_calibration("cpu", out)


def test_calibrate_quick_adapts_a_file_from_real_timings(tmp_path, monkeypatch) -> None:
    """From a base that predicts this machine's timings five times too slow (whatever this
    machine's speed: a first quick run measures it), the adapted calibration predicts them."""
    vit = [mb for mb in network_benchmarks([get_family("vit")]) if mb.tree.total.macs < 3e8]
    monkeypatch.setattr(calibration, "quick_networks", lambda: vit[:2])
    syn = synthetic_calibration()
    first = _quick(tmp_path, syn, "first")
    ratio = math.exp(
        statistics.mean(
            math.log(predict_latency_ms(mb.tree, syn, family="vit") / ms)
            for mb, (_, ms) in zip(vit[:2], first.networks, strict=True)
        )
    )  # the synthetic calibration's prediction / this machine's time
    slope = math.log2(
        predict_latency_ms(vit[0].tree, _device(syn, 2.0, {}), family="vit")
        / predict_latency_ms(vit[0].tree, syn, family="vit")
    )  # prediction ~ speed ** slope
    base = _device(syn, (5.0 / ratio) ** (1 / slope), {})  # predicts five times this machine's
    cal = _quick(tmp_path, base, "other")
    assert cal.adapted_from is not None and "other-base.json" in cal.adapted_from
    assert cal.coeffs == base.coeffs and [n for n, _ in cal.networks] == [m.name for m in vit[:2]]
    assert cal.intervals is None  # two networks: too few to hold one out (the stated fallback)
    for mb, (_, ms) in zip(vit[:2], cal.networks, strict=True):
        before = predict_latency_ms(mb.tree, base, family="vit") / ms
        after = predict_latency_ms(mb.tree, cal, family="vit") / ms
        assert abs(after - 1) < 0.25 and before > 2.5, (before, after)
    out = tmp_path / "other.json"
    doc = json.loads(out.read_text())
    assert doc["adapted_from"] == cal.adapted_from


def test_from_needs_quick(tmp_path) -> None:
    res = runner.invoke(app, ["calibrate", "--from", str(tmp_path / "x.json")])
    assert res.exit_code != 0 and "--quick" in res.output
