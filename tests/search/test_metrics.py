"""The search vocabulary: every metric's vector form (exact mode) is its scalar form (every other
strategy), on real candidates of every shipped space's family; one registry serves budgets,
objectives and the exact mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hirisearch.errors import SpecError
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.exact import Model, values_at
from hirisearch.ops.search.metrics import (
    METRICS,
    EvalContext,
    budget_metric,
    needs_calibration,
)
from hirisearch.ops.search.objectives import check_objective, is_slow
from hirisearch.ops.search.space import load_space
from tests.search.conftest import ROOT, write_space
from tests.search.test_exact import synthetic_calibration

SPACES = sorted((ROOT / "specs" / "search").glob("*.yaml"))
#: Configurations drawn per space (each one evaluated by the scalar model).
DRAWN = 300
#: Of the valid ones, how many have their training metrics compared too (each costs a training
#: twin of its own, the same one the vector form reads).
DRAWN_TRAIN = 24
TRAIN_METRICS = {"train_gmacs", "train_mem_gb"}


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_every_vector_form_is_the_scalar_form(path: Path) -> None:
    space = load_space(path)
    cal = synthetic_calibration()
    ctx = EvalContext.of(space, cal)
    model = Model(space, cal, train=False)
    trained = Model(space, cal, train=True)  # every shipped space's model has a training twin
    rng = np.random.default_rng(1)
    idx = np.sort(rng.choice(model.size, size=min(DRAWN, model.size), replace=False))
    digits = [(idx // s) % r for s, r in zip(model.strides, model.radix, strict=True)]
    ok, _ = model.valid(digits, len(idx))
    where = np.flatnonzero(ok)
    assert len(where) > 10, "too few valid configurations drawn to compare"
    vectors = {n: m for n, m in METRICS.items() if m.vector is not None}
    assert {"params", "params_m", "gmacs", "activations", "latency_ms"} | TRAIN_METRICS <= set(
        vectors
    )
    totals = model.metrics([d[where] for d in digits], len(where))
    columns = {n: m.vector(totals) for n, m in vectors.items() if n not in TRAIN_METRICS}  # type: ignore[misc]
    some = where[:DRAWN_TRAIN]
    totals = trained.metrics([d[some] for d in digits], len(some))
    columns |= {n: vectors[n].vector(totals) for n in TRAIN_METRICS}  # type: ignore[misc]
    for k, j in enumerate(where.tolist()):
        cand = evaluate(space, values_at(model, int(idx[j])))
        assert cand.valid, cand.error
        for name, m in vectors.items():
            if name in TRAIN_METRICS and k >= len(some):
                continue
            want = m.scalar(cand, ctx)
            got = float(columns[name][k])
            if m.needs_calibration:  # a sum over sections vs one walk of the tree: rounding
                assert got == pytest.approx(want, rel=1e-9), name
            else:
                assert got == want, (name, values_at(model, int(idx[j])))


def test_a_scaled_name_is_a_view_of_one_quantity(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path))
    cand = evaluate(space, {})
    ctx = EvalContext.of(space)
    for name, per in (("params_m", 1e6), ("activations_m", 1e6)):
        view = METRICS[name]
        base = METRICS[view.quantity]
        assert view.quantity != name and base.quantity == base.name
        assert view.scalar(cand, ctx) == base.scalar(cand, ctx) / per
    assert METRICS["params"].scalar(cand, ctx) == cand.cost.params
    assert METRICS["gmacs"].scalar(cand, ctx) == cand.cost.macs / 1e9


def test_budgets_objectives_and_exact_mode_read_one_registry(tmp_path: Path) -> None:
    for name, m in METRICS.items():
        check_objective(name)  # every metric is an objective
        assert is_slow(name) == m.slow
        if m.slow:
            with pytest.raises(SpecError, match="not a budget"):
                budget_metric(name)
        else:
            assert budget_metric(name) is m
    with pytest.raises(SpecError, match="unknown metric; valid: params, params_m, gmacs"):
        budget_metric("flops")
    # the exact strategy refuses what has no vector form, naming the field
    with pytest.raises(SpecError, match=r"objectives\[1\]: strategy exact evaluates"):
        load_space(
            write_space(
                tmp_path,
                strategy="exact",
                objectives=[{"minimize": "params"}, {"maximize": "img_size"}],
            )
        )
    with pytest.raises(SpecError, match=r"budgets.img_size: strategy exact evaluates"):
        load_space(write_space(tmp_path, strategy="exact", budgets={"img_size": {"max": 448}}))
    # the predicted latency, in a budget or an objective, is what asks for a calibration
    plain = load_space(write_space(tmp_path))
    assert not needs_calibration(plain)
    timed = load_space(
        write_space(tmp_path, objectives=[{"minimize": "params"}, {"minimize": "latency_ms"}])
    )
    assert needs_calibration(timed)
