"""The latency predictor: operator extraction, fit on synthetic timings, storage, prediction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.latency import predictor as pr
from hirisearch.latency.predictor import (
    Calibration,
    CalibrationError,
    Op,
    Sample,
    fit,
    load_calibration,
    predict_latency_ms,
    save_calibration,
    tree_ops,
)
from hirisearch.targets import resolve
from tests.conftest import SPECS

TRUE = {
    "conv": (2e-8, 3e-7, 0.0, 0.01),
    "dwconv": (5e-8, 1e-6, 0.0, 0.02),
    "linear": (1.5e-8, 2e-7, 1e-7, 0.005),
}


def _synthetic() -> list[Sample]:
    rng = np.random.default_rng(0)
    out = []
    for cat, coef in TRUE.items():
        for i in range(12):
            macs = int(rng.integers(10**5, 10**9))
            op = Op(cat, macs, int(macs / rng.uniform(9, 500)), int(rng.integers(100, 10**6)))
            batch = int(rng.choice([1, 2, 8]))
            ms = sum(a * f for a, f in zip(coef, op.features(batch), strict=True))
            out.append(Sample(f"{cat}{i}", op, batch, ms))
    return out


def test_fit_recovers_known_coefficients() -> None:
    got = fit(_synthetic())
    for cat, coef in TRUE.items():
        np.testing.assert_allclose(got[cat], coef, rtol=1e-6, atol=1e-12)


def test_nnls_keeps_coefficients_non_negative() -> None:
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, -1.0, 0.0])
    x = pr.nnls(a, y)
    assert (x >= 0).all()
    np.testing.assert_allclose(x, [0.5, 0.0], atol=1e-12)


def test_tree_ops_categories_and_glue() -> None:
    dense = CostNode.leaf(P.conv2d(32, 64, 1, (8, 8)))
    dw = CostNode.leaf(P.conv2d(64, 64, 3, (8, 8), groups=64))
    lin = CostNode.leaf(P.linear(64, 10, 4))
    attn_node = CostNode.of([("q", lin)], own=P.attention(2, 4, 4, 8))
    norm = CostNode.leaf(P.batch_norm(64, 64 * 64))
    tree = CostNode.of([("a", dense), ("b", dw), ("n", norm), ("c", attn_node)])
    ops = tree_ops(tree)
    assert [o.category for o in ops] == ["conv", "dwconv", "norm", "linear", "attn", "glue"]
    assert ops[0].macs == 32 * 64 * 64 and ops[1].macs == 64 * 9 * 64
    assert ops[4].macs == P.attention(2, 4, 4, 8).attn
    glue = ops[-1]
    assert glue.count == 5
    assert glue.elements == sum(o.elements for o in ops[:5] if o.category != "norm")


def test_tree_ops_of_hiri_vit_cover_every_mac() -> None:
    t = resolve(str(SPECS / "s.yaml"))
    tree = t.cost(t.plan(224))
    ops = tree_ops(tree)
    assert sum(o.macs for o in ops) == tree.total.macs
    assert sum(o.elements for o in ops if o.category == "norm") == tree.total.norm
    cats = {o.category for o in ops}
    assert {"conv", "dwconv", "linear", "attn", "norm", "glue"} <= cats


SMALL = (
    "dwconv3x3 1792 @7/s1",
    "linear 448->896 x49",
    "linear 448->1000 x1",
    "attention 14h q49 kv49 d32",
    "attention 14h q1 kv50 d32",
    "layernorm 448 x49",
)


def few_benches() -> list[pr.MicroBench]:
    """The smallest operators a 7x7 Transformer block uses, and that block."""
    ops = [mb for mb in pr.operator_benchmarks() if mb.name in SMALL]
    return ops + [mb for mb in pr.block_benchmarks() if mb.name.endswith("@7")]


def test_block_without_its_operators_is_refused() -> None:
    block = [mb for mb in pr.block_benchmarks() if mb.name.endswith("@7")][0]
    with pytest.raises(CalibrationError, match="no operator benchmark"):
        pr.fit_blocks([(block, 1.0)], {"linear": (0.0, 0.0, 0.0, 0.0)})


def _cal() -> Calibration:
    coeffs = {c: (1e-8, 1e-7, 0.0, 0.01) for c in pr.CATEGORIES}
    return Calibration("cpu", "test cpu", torch.__version__, 1, "now", coeffs, tuple(_synthetic()))


def _scaled_cal() -> Calibration:
    return Calibration(
        **{
            **_cal().__dict__,
            "scales": {"conv": 1.25, "dwconv": 1.75},
            "network_scale": 1.1,
            "network_per_op": 0.003,
            "networks": (("network cal-a @224", 12.5),),
        }
    )


def test_prediction_sums_operators_and_scales_with_batch() -> None:
    t = resolve(str(SPECS / "s.yaml"))
    tree = t.cost(t.plan(224))
    cal = _cal()
    ops = tree_ops(tree)
    one = predict_latency_ms(tree, cal)
    expected = sum(1e-8 * o.macs + 1e-7 * o.elements + 0.01 * o.count for o in ops)
    assert one == pytest.approx(expected)
    four = predict_latency_ms(tree, cal, batch=4)
    per_op = sum(0.01 * o.count for o in ops)
    assert four == pytest.approx(4 * (one - per_op) + per_op)


def test_save_and_load_roundtrip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(pr.CACHE_ENV, str(tmp_path))
    cal = _scaled_cal()
    path = save_calibration(cal)
    assert path == tmp_path / "calibration-cpu.json"
    loaded = load_calibration("cpu")
    assert loaded.coeffs == cal.coeffs and loaded.samples == cal.samples
    assert loaded == cal
    with pytest.raises(CalibrationError, match="hirisearch calibrate --device cuda"):
        load_calibration("cuda")
    doc = json.loads(path.read_text())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match="version"):
        load_calibration("cpu")


def test_calibrate_end_to_end_on_a_few_benchmarks() -> None:
    cal = pr.calibrate(torch.device("cpu"), threads=1, min_time_s=0.01, benches=few_benches())
    assert set(cal.coeffs) == {"dwconv", "linear", "attn", "norm", "glue"}
    assert cal.threads == 1 and len(cal.samples) == 7
    assert all(min(c) >= 0 for c in cal.coeffs.values())


def test_robust_fit_ignores_one_disturbed_timing() -> None:
    samples = _synthetic()
    bad = samples[3]
    samples[3] = Sample(bad.name, bad.op, bad.batch, bad.ms * 3.0)  # a run hit by other work
    got = fit(samples)
    np.testing.assert_allclose(got["conv"], TRUE["conv"], rtol=1e-3, atol=1e-12)
    plain = pr.nnls  # the unweighted solution is pulled away by the outlier
    group = [s for s in samples if s.op.category == "conv"]
    a = np.array([s.op.features(s.batch) for s in group]) / np.array([s.ms for s in group])[:, None]
    col = np.abs(a).max(axis=0)
    x = plain(a / col, np.ones(len(group))) / col
    assert not np.allclose(x, TRUE["conv"], rtol=1e-2)


def test_fit_blocks_recovers_known_scales_and_glue() -> None:
    coeffs = {c: (2e-8, 3e-7, 1e-8, 0.004) for c in ("conv", "dwconv", "linear", "attn", "norm")}
    scales = {"conv": 1.3, "dwconv": 1.8, "linear": 1.1, "attn": 1.0, "norm": 1.5}
    glue = (0.0, 4e-7, 0.0, 0.006)
    blocks = []
    for mb in pr.block_benchmarks():
        base, g = pr.block_parts(mb, coeffs)
        ms = sum(scales[c] * t for c, t in base.items())
        ms += glue[1] * g.elements + glue[3] * g.count
        blocks.append((mb, ms))
    got_scales, got_glue, samples = pr.fit_blocks(blocks, coeffs)
    assert set(got_scales) == set(scales)
    for c, v in scales.items():
        assert got_scales[c] == pytest.approx(v, rel=1e-5)
    np.testing.assert_allclose(got_glue, glue, rtol=1e-5, atol=1e-12)
    assert len(samples) == len(blocks)
    cal = Calibration("cpu", "t", torch.__version__, 1, "now", {**coeffs, "glue": got_glue})
    cal = Calibration(**{**cal.__dict__, "scales": got_scales})
    for mb, ms in blocks:
        assert predict_latency_ms(mb.tree, cal) == pytest.approx(ms, rel=1e-5)


def test_scales_multiply_operator_times() -> None:
    cal = _cal()
    op = Op("dwconv", 10**6, 10**4, 0)
    scaled = Calibration(**{**cal.__dict__, "scales": {"dwconv": 2.0}})
    assert scaled.op_ms(op) == pytest.approx(2 * cal.op_ms(op))
    assert scaled.isolated_ms(op) == pytest.approx(cal.op_ms(op))


def test_fit_network_recovers_factor_and_per_op_cost() -> None:
    cal = _cal()
    nets = pr.network_benchmarks()
    assert len(nets) >= 4 and all(mb.network and not mb.is_block for mb in nets)
    k, o = 1.3, 0.02
    measured = [
        (mb, k * predict_latency_ms(mb.tree, cal) + o * tree_ops(mb.tree)[-1].count) for mb in nets
    ]
    got_k, got_o = pr.fit_network(measured, cal)
    assert got_k == pytest.approx(k, rel=1e-6) and got_o == pytest.approx(o, rel=1e-5)
    fitted = Calibration(**{**cal.__dict__, "network_scale": got_k, "network_per_op": got_o})
    for mb, ms in measured:
        assert predict_latency_ms(mb.tree, fitted) == pytest.approx(ms, rel=1e-6)
    assert pr.fit_network(measured[:1], cal) == (1.0, 0.0)  # one network cannot fix two numbers
