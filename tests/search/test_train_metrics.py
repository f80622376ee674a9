"""The training metrics in search: a space file's ``train:`` block sets the step, a
``train_mem_gb`` budget keeps only configurations whose ``profile --train`` peak is within it,
in the exact mode and in a trial strategy."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

import hirisearch
from hirisearch.errors import HirisearchError, ObjectiveError, SpecError
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.launch import baseline_row
from hirisearch.ops.search.metrics import EvalContext, train_cost_of
from hirisearch.ops.search.space import load_space
from hirisearch.spec import load_spec
from hirisearch.tasks.parts import PARTS, Part
from hirisearch.tasks.presets import PRESETS, TaskPreset
from hirisearch.train.config import TrainConfig
from tests.search.conftest import ROOT, write_space

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


#: A task space: HIRI-ViT-S under UperNet at 128 px, 2 * 2 = 4 configurations.
TASK_SPACE = {
    "task": "ade-upernet",
    "axes": {"depths.3": {"choices": [1, 4]}, "mlp_ratios.3": {"choices": [2, 4]}},
    "train": TRAIN,
}


def _task_peaks(tmp_path: Path) -> dict[tuple[int, int], tuple[int, int]]:
    """``profile --task --train`` of every configuration of :data:`TASK_SPACE`: (depth, MLP
    ratio) -> (training MACs, analytic peak)."""
    space = load_space(write_space(tmp_path, "grid.yaml", **TASK_SPACE))
    out = {}
    for depth, ratio in space.grid():
        cand = evaluate(space, {"depths.3": depth, "mlp_ratios.3": ratio})
        r = hirisearch.profile(
            cand.spec, 128, task="ade-upernet", trace=False, train=TRAIN, memories=[]
        )
        assert r.train is not None
        out[depth, ratio] = (r.train.cost.macs.total, r.train.cost.memory.peak)
    return out


@pytest.mark.parametrize("strategy", ["exact", "grid", "random", "tpe", "nsga2", "gp"])
def test_a_task_space_train_budget_keeps_what_profile_task_train_fits(
    strategy: str, tmp_path: Path
) -> None:
    figures = _task_peaks(tmp_path)
    limit = statistics.median(peak for _, peak in figures.values()) / 1e9
    fits = {k for k, (_, peak) in figures.items() if peak <= limit * 1e9}
    assert 0 < len(fits) < len(figures)  # the budget binds
    path = write_space(
        tmp_path,
        **TASK_SPACE,
        strategy=strategy,
        trials=8,
        budgets={"train_mem_gb": {"max": limit}},
        objectives=[{"maximize": "params"}, {"minimize": "train_gmacs"}],
    )
    result = hirisearch.search(path, out=tmp_path / "run", verify=False)
    assert result.pareto
    for entry in result.pareto:  # the front's training figures are profile --task --train's
        v = entry.record.values
        macs, peak = figures[v["depths.3"], v["mlp_ratios.3"]]
        assert peak <= limit * 1e9 and entry.record.feasible
        assert entry.record.objectives["train_gmacs"] == macs / 1e9
        (slack,) = entry.record.slack.values()
        assert slack == pytest.approx(limit - peak / 1e9)
    if strategy == "exact":  # every configuration, counted; the training peak is no section sum
        assert (result.complete, result.feasible) == (len(figures), len(fits))
        assert result.exact is not None and result.exact["method"] == "enumerate"
        sections = write_space(
            tmp_path, "sections.yaml", **TASK_SPACE, strategy="exact", exact={"method": "sections"},
            budgets={"train_mem_gb": {"max": limit}},
        )  # fmt: skip
        with pytest.raises(HirisearchError, match=r"method: sections\} cannot bound the training"):
            hirisearch.search(sections, out=tmp_path / "sections", verify=False)
    for t in result.trials:  # every trial run is feasible exactly when its peak fits
        if t["state"] == "COMPLETE":
            assert t["feasible"] == ((t["axes"]["depths.3"], t["axes"]["mlp_ratios.3"]) in fits)


def test_a_task_space_without_a_training_twin_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = PARTS["upernet"]
    PARTS.register(Part("toy-head", "head", "toy", up.config, up.plan, up.cost, up.build))
    toy = TaskPreset("toy-task", "toy", (128, 128), None, ("toy-head", {}))
    monkeypatch.setitem(PRESETS, "toy-task", toy)
    try:
        path = write_space(
            tmp_path, task="toy-task", budgets={"train_mem_gb": {"max": 1.0}},
            axes=TASK_SPACE["axes"],
        )  # fmt: skip
        with pytest.raises(
            SpecError, match=r"budgets.train_mem_gb.*the head toy-head has no tr"
        ) as e:
            load_space(path)
        assert "\n" not in str(e.value)  # one line
        plain = load_space(write_space(tmp_path, task="toy-task", axes=TASK_SPACE["axes"]))
        with pytest.raises(ObjectiveError, match="the head toy-head has no training twin"):
            train_cost_of(evaluate(plain, {}), plain.train)
    finally:
        PARTS.unregister("toy-head")


def test_a_task_space_prices_its_baselines_under_the_task(tmp_path: Path) -> None:
    """``--baseline`` in a task space: the baseline's task model, as the candidates are."""
    path = write_space(
        tmp_path, **TASK_SPACE, objectives=[{"maximize": "params"}, {"minimize": "train_gmacs"}]
    )
    space = load_space(path)
    swin = str(ROOT / "specs" / "swin" / "t.yaml")
    row = baseline_row(swin, space)
    r = hirisearch.profile(swin, 128, task="ade-upernet", trace=False, train=TRAIN, memories=[])
    assert r.train is not None and row["name"] == "Swin-T+ade-upernet"
    assert (row["params"], row["macs"]) == (r.params, r.macs)
    assert row["objectives"]["train_gmacs"] == r.train.cost.macs.total / 1e9
