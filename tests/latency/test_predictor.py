"""The latency predictor: operator extraction, fit on synthetic timings, storage, prediction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.latency import predictor as pr
from hirisearch.latency.networks import network_benchmarks
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
from hirisearch.models import FAMILIES
from hirisearch.models.base import network_rows
from hirisearch.targets import resolve
from tests.conftest import SPECS
from tests.latency.calibrations import (
    FEW_OPERATORS,
    TRUE_COEFFS,
    few_benches,
    synthetic_samples,
    uniform_calibration,
)


def test_fit_recovers_known_coefficients() -> None:
    got = fit(synthetic_samples())
    for cat, coef in TRUE_COEFFS.items():
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
    cats = [o.category for o in ops]
    assert cats[:5] == ["conv", "dwconv", "norm", "linear", "attn"]
    assert cats[5:] == ["glue_conv", "glue_dwconv", "glue_linear", "glue_attn", "glue_norm"]
    assert ops[0].macs == 32 * 64 * 64 and ops[1].macs == 64 * 9 * 64
    assert ops[4].macs == P.attention(2, 4, 4, 8).attn
    glue = {o.category: o for o in ops[5:]}
    assert all(g.count == 1 and g.macs == 0 for g in glue.values())
    for o in ops[:5]:  # a pass over each output; none over a norm's
        assert glue["glue_" + o.category].elements == (0 if o.category == "norm" else o.elements)
    assert pr.operator_count(ops) == 5


def test_attention_with_its_own_bias_is_its_own_category() -> None:
    """A learned bias on the scores (a parameter of the attention node itself) materialises them."""
    lin = CostNode.leaf(P.linear(64, 192, 49))
    plain = CostNode.of([("qkv", lin)], own=P.attention(2, 49, 49, 32))
    bias = Cost(params=338) + P.attention(2, 49, 49, 32)
    biased = CostNode.of([("qkv", lin)], own=bias)
    assert [o.category for o in tree_ops(plain)][:2] == ["linear", "attn"]
    assert [o.category for o in tree_ops(biased)][:2] == ["linear", "attn_bias"]
    assert tree_ops(biased)[1].macs == tree_ops(plain)[1].macs


def test_calibration_table_with_a_zero_residual_sample() -> None:
    """A residual sample (its time what a block takes beyond its operators) may be 0 ms; its error
    is relative to its block's time, so the table renders."""
    from hirisearch.report.terminal.bench import calibration_table

    op = Op("glue_linear", 0, 1000, 0, count=3)
    cal = uniform_calibration()
    cal = Calibration(**{**cal.__dict__, "samples": (Sample("blk", op, 1, 0.0, scale_ms=2.0),)})
    table = calibration_table(cal)
    assert table.row_count == len(cal.coeffs)


def test_tree_ops_of_hiri_vit_cover_every_mac() -> None:
    t = resolve(str(SPECS / "s.yaml"))
    tree = t.at(224).tree
    ops = tree_ops(tree)
    assert sum(o.macs for o in ops) == tree.total.macs
    assert sum(o.elements for o in ops if o.category == "norm") == tree.total.norm
    cats = {o.category for o in ops}
    assert {"conv", "dwconv", "linear", "attn", "norm", "glue_conv", "glue_linear"} <= cats


def _scaled_cal() -> Calibration:
    return Calibration(
        **{
            **uniform_calibration().__dict__,
            "scales": {"conv": 1.25, "dwconv": 1.75},
            "family_scales": {"vit": 0.9, "hrvit": 1.2},
            "family_category_scales": {"hrvit": {"dwconv": 1.6}},
            "networks": (("network cal-a @224", 12.5),),
        }
    )


def test_prediction_sums_operators_and_scales_with_batch() -> None:
    t = resolve(str(SPECS / "s.yaml"))
    tree = t.at(224).tree
    cal = uniform_calibration()
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
    ops = {"conv", "linear", "attn", "norm"}
    assert set(cal.coeffs) == ops | {f"glue_{c}" for c in ops}
    assert cal.threads == 1 and len(cal.networks) == 1
    assert cal.scales == {} and cal.family_scales == {}  # one network fits no factor
    assert sum(s.name in FEW_OPERATORS for s in cal.samples) == len(
        FEW_OPERATORS
    )  # + in-situ leaf samples
    assert all(s.ms > 0 for s in cal.samples if s.name in FEW_OPERATORS)
    assert all(ms > 0 for _, ms in cal.networks)
    assert all(min(c) >= 0 for c in cal.coeffs.values())


def test_robust_fit_ignores_one_disturbed_timing() -> None:
    samples = synthetic_samples()
    bad = samples[3]
    samples[3] = Sample(bad.name, bad.op, bad.batch, bad.ms * 3.0)  # a run hit by other work
    got = fit(samples)
    np.testing.assert_allclose(got["conv"], TRUE_COEFFS["conv"], rtol=1e-3, atol=1e-12)
    plain = pr.nnls  # the unweighted solution is pulled away by the outlier
    group = [s for s in samples if s.op.category == "conv"]
    a = np.array([s.op.features(s.batch) for s in group]) / np.array([s.ms for s in group])[:, None]
    col = np.abs(a).max(axis=0)
    x = plain(a / col, np.ones(len(group))) / col
    assert not np.allclose(x, TRUE_COEFFS["conv"], rtol=1e-2)


TRUE_INSITU = {
    "conv": (2e-8, 3e-7, 1e-8, 0.004),
    "dwconv": (3e-8, 9e-7, 0.0, 0.006),
    "linear": (1.5e-8, 2e-7, 1e-8, 0.003),
    "attn": (1e-8, 4e-7, 0.0, 0.01),
    "attn_bias": (2e-8, 2e-6, 0.0, 0.01),
    "norm": (0.0, 2e-7, 0.0, 0.002),
}
TRUE_GLUE = {  # no pass over a norm's output: its glue is dispatch only
    f"glue_{c}": (0.0, 0.0 if c == "norm" else 5e-7 * (i + 1), 0.0, 0.001 * (i + 1))
    for i, c in enumerate(TRUE_INSITU)
}
TRUE_ALL = {**TRUE_INSITU, **TRUE_GLUE}


def _synthetic_rows() -> list:
    """In-situ rows of every calibration network, timed by a known model."""
    from hirisearch.latency.insitu import NodeSample

    rows = []
    for mb in network_benchmarks():
        for path, node in [("", mb.tree), *mb.tree.walk()]:
            ops = tree_ops(node)
            if not node.children:
                ops = [o for o in ops if not o.category.startswith("glue_")]
            ms = sum(
                sum(a * f for a, f in zip(TRUE_ALL[o.category], o.features(), strict=True))
                for o in ops
            )
            rows.append(NodeSample(f"{mb.name}/{path}", tuple(ops), ms))
    return rows


def test_fit_insitu_recovers_known_coefficients() -> None:
    rows = _synthetic_rows()
    assert {o.category for r in rows for o in r.ops} == set(TRUE_ALL)
    got = pr.fit_insitu(rows)
    assert set(got) == set(TRUE_ALL)
    for cat in ("conv", "dwconv", "linear", "norm"):  # timed alone as leaves: identifiable
        np.testing.assert_allclose(got[cat], TRUE_ALL[cat], rtol=1e-4, atol=1e-13, err_msg=cat)
        glue = f"glue_{cat}"
        np.testing.assert_allclose(got[glue], TRUE_ALL[glue], rtol=1e-4, atol=1e-13, err_msg=glue)
    for cat in ("attn", "attn_bias"):  # computed by a module itself: only op + glue is defined
        total = np.add(got[cat], got[f"glue_{cat}"])
        want = np.add(TRUE_ALL[cat], TRUE_ALL[f"glue_{cat}"])
        np.testing.assert_allclose(total, want, rtol=1e-4, atol=1e-13, err_msg=cat)
    fitted = Calibration("cpu", "t", torch.__version__, 1, "now", got)
    for r in rows[::50]:
        assert sum(fitted.op_ms(o) for o in r.ops) == pytest.approx(r.ms, rel=1e-4)


def test_fit_insitu_refuses_a_category_it_cannot_model() -> None:
    from hirisearch.latency.insitu import NodeSample

    with pytest.raises(CalibrationError, match="no operator model"):
        pr.fit_insitu([NodeSample("x", (Op("fft", 0, 1, 0),), 1.0)])


def test_insitu_samples_of_a_real_network() -> None:
    from hirisearch.latency.insitu import node_samples

    (mb,) = [m for m in few_benches() if m.network]
    model = mb.make().eval()
    x = torch.randn(1, *mb.input_shape)
    rows = {r.path: r for r in node_samples(mb.tree, model, x, torch.device("cpu"), runs=2)}
    root, paths = rows[""], dict(mb.tree.walk())
    assert set(rows) - {""} <= set(paths) and len(rows) > 10
    assert root.ops == tuple(tree_ops(mb.tree)) and root.ms > 0
    assert sum(o.macs for o in root.ops) == mb.tree.total.macs
    blocks = [p for p in rows if p.count(".") == 1 and p.startswith("blocks.")]
    assert blocks and all(rows[p].ms <= root.ms for p in blocks)
    for p, r in rows.items():
        if p and not paths[p].children:  # a leaf: its operator alone, its glue in the parent
            assert len(r.ops) == 1 and not r.ops[0].category.startswith("glue_")


def test_scales_multiply_operator_times() -> None:
    cal = uniform_calibration()
    op = Op("dwconv", 10**6, 10**4, 0)
    scaled = Calibration(**{**cal.__dict__, "scales": {"dwconv": 2.0}})
    assert scaled.op_ms(op) == pytest.approx(2 * cal.op_ms(op))
    assert scaled.isolated_ms(op) == pytest.approx(cal.op_ms(op))


def _measured(cal: Calibration, slower: dict[str, float]) -> list[tuple]:
    """Every calibration network 'measured' as the category models predict, times ``slower`` of
    its family."""
    return [
        (mb.tree, slower.get(mb.family, 1.0) * predict_latency_ms(mb.tree, cal), mb.family)
        for mb in network_benchmarks()
    ]


def test_fit_network_scales_is_exact_where_the_models_are() -> None:
    cal = uniform_calibration()
    scales, families = pr.fit_network_scales(_measured(cal, {}), cal)
    assert set(families) == set(FAMILIES)
    assert all(v == pytest.approx(1.0, abs=1e-9) for v in [*scales.values(), *families.values()])
    assert pr.fit_network_scales(_measured(cal, {})[:1], cal) == ({}, {})


def test_fit_network_scales_finds_the_slow_family() -> None:
    cal = uniform_calibration()
    measured = _measured(cal, {"hrvit": 1.25, "vit": 0.8})
    scales, families = pr.fit_network_scales(measured, cal)
    assert families["hrvit"] == pytest.approx(1.25, rel=0.03)
    assert families["vit"] == pytest.approx(0.8, rel=0.03)
    assert all(abs(families[f] - 1) < 0.03 for f in families if f not in ("hrvit", "vit"))
    fitted = Calibration(**{**cal.__dict__, "scales": scales, "family_scales": families})
    for tree, ms, family in measured:
        assert predict_latency_ms(tree, fitted, family=family) == pytest.approx(ms, rel=0.01)
    # Without its family, a network gets the shared category models alone.
    tree, ms, family = next(m for m in measured if m[2] == "hrvit")
    alone = predict_latency_ms(tree, fitted)
    assert predict_latency_ms(tree, fitted, family=family) == pytest.approx(
        alone * families["hrvit"]
    )


def test_every_family_contributes_calibration_networks() -> None:
    nets = network_benchmarks()
    names = [mb.name for mb in nets]
    assert len(names) == len(set(names))
    for name in FAMILIES:
        mine = [mb for mb in nets if mb.name.startswith(f"network {name}:")]
        assert len(mine) >= 3, name
        assert all(mb.network and mb.copies == 1 and mb.tree.total.macs > 0 for mb in mine)
        assert all(mb.family == name for mb in mine)
        # Networks sized as searches draw them: full depth, up to 6 GMACs, 224-512 px.
        rows = network_rows(name)
        assert len(rows) == 8, name
        sized = [mb for mb in mine if any(f":{r['name']} @" in mb.name for r in rows)]
        assert len(sized) == 8 and all(mb.tree.total.macs <= 6e9 for mb in sized), name
        assert max(mb.tree.total.macs for mb in sized) > 2e9, name  # whole-network timing only
    assert network_rows("no_such_family") == ()


def test_latency_package_names_no_family() -> None:
    """Calibration knows no family: the families name their own networks."""
    import hirisearch.latency as latency

    root = Path(latency.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text().lower()
        for name in [*FAMILIES, "hiri-vit", "hrblock", "irds", "swin", "deit"]:
            assert name not in text, f"{path.name} names {name!r}"


def test_prediction_is_additive_over_sections() -> None:
    cal = _scaled_cal()
    for name, family in FAMILIES.items():
        spec = family.latency_specs()[0]
        tree = family.cost(family.plan(spec, spec.img_size))
        own = _own_cost(tree)
        parts = sum(predict_latency_ms(child, cal) for _, child in tree.children)
        rest = predict_latency_ms(CostNode.leaf(own), cal)
        assert parts + rest == pytest.approx(predict_latency_ms(tree, cal), rel=1e-9), name


def _own_cost(tree: CostNode) -> Cost:
    from hirisearch.latency.predict import _minus

    own = tree.total
    for _, child in tree.children:
        own = _minus(own, child.total)
    return own


@pytest.mark.gpu
def test_calibrate_on_cuda_times_modules_with_events() -> None:
    from hirisearch.latency.insitu import node_samples

    cuda = torch.device("cuda")
    (mb,) = [m for m in few_benches() if m.network]
    model = mb.make().eval().to(cuda)
    rows = node_samples(mb.tree, model, torch.randn(1, *mb.input_shape, device=cuda), cuda, runs=2)
    assert rows and all(r.ms >= 0 for r in rows) and any(r.ms > 0 for r in rows)
    cal = pr.calibrate(cuda, min_time_s=0.01, benches=few_benches())
    assert cal.device == "cuda" and len(cal.networks) == 1 and cal.network_scale > 0
    assert predict_latency_ms(mb.tree, cal) > 0


def test_family_category_factors_scale_the_family_operators_only() -> None:
    cal = _scaled_cal()
    op = Op("dwconv", 10**6, 10**4, 0)
    assert cal.op_ms(op, family="hrvit") == pytest.approx(1.6 * cal.op_ms(op))
    assert cal.op_ms(op, family="vit") == cal.op_ms(op)
    assert cal.op_ms(Op("conv", 10**6, 10**4, 0), family="hrvit") == cal.op_ms(
        Op("conv", 10**6, 10**4, 0)
    )


def test_fit_family_categories_finds_the_slow_kernels() -> None:
    """In-situ samples: HRViT's depth-wise convolutions twice the shared model, its convs and every
    other family's operators as modelled; too few samples fit nothing."""
    coeffs = dict(TRUE_INSITU)
    rng = np.random.default_rng(1)
    samples = []
    for family, cat, slower, n in [
        ("hrvit", "dwconv", 2.0, 8),
        ("hrvit", "conv", 1.0, 8),
        ("hiri_vit", "dwconv", 1.0, 8),
        ("swin", "norm", 3.0, 4),  # below FAMILY_CATEGORY_MIN_SAMPLES
    ]:
        for i in range(n):
            op = Op(cat, int(rng.integers(10**5, 10**8)), int(rng.integers(10**3, 10**6)), 100)
            ms = slower * sum(a * f for a, f in zip(coeffs[cat], op.features(), strict=True))
            samples.append((family, Sample(f"{family}/{cat}{i}", op, 1, ms)))
    samples.append((None, samples[0][1]))  # no family: ignored
    got = pr.fit_family_categories(samples, coeffs)
    assert got == {
        "hiri_vit": {"dwconv": pytest.approx(1.0)},
        "hrvit": {"conv": pytest.approx(1.0), "dwconv": pytest.approx(2.0)},
    }
