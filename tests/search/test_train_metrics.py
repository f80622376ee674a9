"""The training metrics in search: a space file's ``train:`` block sets the step, a
``train_mem_gb`` budget keeps only configurations whose ``profile --train`` peak is within it,
in the exact mode and in a trial strategy."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

import hirisearch
from hirisearch.errors import SpecError
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.metrics import EvalContext, train_cost_of
from hirisearch.ops.search.space import load_space
from hirisearch.spec import load_spec
from hirisearch.train.config import TrainConfig
from tests.search.conftest import write_space

TRAIN = {"batch": 4, "dtype": "bf16", "optimizer": "sgd", "checkpoint": "none"}


def _peaks(path: Path) -> list[float]:
    space = load_space(path)
    paths = [a.path for a in space.axes]
    cands = [evaluate(space, dict(zip(paths, v, strict=True))) for v in space.grid()]
    return [train_cost_of(c, space.train).memory.peak / 1e9 for c in cands if c.valid]


def test_train_block_sets_the_step(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path, train=TRAIN))
    assert space.train == TrainConfig(batch=4, dtype="bf16", optimizer="sgd")
    assert EvalContext.of(space).train == space.train
    assert load_space(write_space(tmp_path)).train == TrainConfig()
    with pytest.raises(SpecError, match="train.dtype"):
        load_space(write_space(tmp_path, train={"dtype": "fp8"}))


@pytest.mark.parametrize("strategy", ["exact", "random"])
def test_train_mem_budget_keeps_what_profile_train_fits(strategy: str, tmp_path: Path) -> None:
    limit = statistics.median(_peaks(write_space(tmp_path, train=TRAIN)))
    path = write_space(
        tmp_path,
        train=TRAIN,
        strategy=strategy,
        trials=16,
        budgets={"train_mem_gb": {"max": limit}},
        objectives=[{"maximize": "params"}, {"minimize": "train_gmacs"}],
    )
    result = hirisearch.search(path, out=tmp_path / "run", verify=False)
    assert result.pareto and result.feasible < result.complete  # the budget binds
    for entry in result.pareto:
        spec = load_spec(entry.spec_file)
        r = hirisearch.profile(spec, 128, trace=False, train=TRAIN, memories=[])
        assert r.train is not None and r.train.cost.memory.peak <= limit * 1e9
        assert r.train.cost.macs.total / 1e9 == entry.record.objectives["train_gmacs"]
