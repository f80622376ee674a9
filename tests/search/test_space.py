"""Search spaces: every shipped space loads; every malformed one is a SpecError naming the axis."""

from __future__ import annotations

from pathlib import Path

import pytest

from hirisearch.errors import SpecError
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.space import apply_values, load_space
from tests.search.conftest import ROOT, SMALL, write_space

SPACES = sorted((ROOT / "specs" / "search").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_shipped_space_loads_and_its_corners_are_valid(path: Path) -> None:
    """Every shipped space, whatever its family: a misspelt or unregistered one fails here."""
    space = load_space(path)
    assert space.size > 1
    assert space.trials >= 1 and space.objectives
    from hirisearch.ops.search.results import corner

    low, high = corner(space, "low"), corner(space, "high")
    assert low.valid and high.valid
    assert low.cost.macs < high.cost.macs


def test_hiri_vit_5g_contains_the_base_and_the_base_fits() -> None:
    space = load_space(ROOT / "specs" / "search" / "hiri_vit_5g.yaml")
    base = evaluate(space, {})
    assert base.valid and base.plan.img_size == (448, 448)
    assert base.cost.macs / 1e9 <= 5.0
    for axis in space.axes:  # the shipped S is a point of the space
        top, idx = axis.path.split(".")
        assert base.data[top][int(idx)] in axis.values(), axis.path


def test_apply_values_copies_only_the_touched_containers() -> None:
    base = {"depths": [1, 2], "dims": [3, 4], "name": "x"}
    out = apply_values(base, {"depths.1": 5})
    assert out == {"depths": [1, 5], "dims": [3, 4], "name": "x"}
    assert base["depths"] == [1, 2]
    assert out["dims"] is base["dims"]


@pytest.mark.parametrize(
    ("change", "field", "needle"),
    [
        ({"axes": {"depth.3": {"low": 1, "high": 2}}}, "axes.depth.3", "not a field"),
        ({"axes": {"depths.9": {"low": 1, "high": 2}}}, "axes.depths.9", "out of range"),
        ({"axes": {"depths.x": {"low": 1, "high": 2}}}, "axes.depths.x", "list index"),
        ({"axes": {"depths": {"low": 1, "high": 2}}}, "axes.depths", "not a single value"),
        ({"axes": {"depths.3": {"low": 5, "high": 2}}}, "axes.depths.3", "empty range"),
        ({"axes": {"depths.3": {"choices": []}}}, "axes.depths.3", "non-empty"),
        ({"axes": {"depths.3": {"low": 0, "high": 2}}}, "axes.depths.3", "rejected"),
        ({"axes": {"block_types.2": {"choices": ["hr", "mlp"]}}}, "axes.block_types.2", "rejected"),
        ({"axes": {"img_size": {"choices": [448, 450]}}}, "axes.img_size", "rejected"),
        ({"axes": {"depths.3": {"low": 1, "high": 3, "step": 0}}}, "axes.depths.3", "step > 0"),
        ({"axes": {"depths.3": {"low": 1, "hi": 3}}}, "axes.depths.3", "unknown key"),
        ({"axes": {}}, "axes", "non-empty"),
        ({"budgets": {"gflops": {"max": 5}}}, "budgets.gflops", "unknown metric"),
        ({"budgets": {"gmacs": {"max": 1, "min": 2}}}, "budgets.gmacs", "min <= max"),
        ({"objectives": [{"minimize": "accuracy"}]}, "objectives[0]", "unknown objective"),
        ({"objectives": [{"maximize": "no module:f"}]}, "objectives[0]", "dotted identifiers"),
        ({"strategy": "bayes"}, "strategy", "unknown strategy"),
        ({"trials": 0}, "trials", "positive"),
        ({"base": "missing.yaml"}, "base", "not found"),
        ({"color": 1}, "color", "unknown key"),
    ],
)
def test_malformed_space_names_file_and_field(
    tmp_path: Path, change: dict, field: str, needle: str
) -> None:
    path = write_space(tmp_path, **change)
    with pytest.raises(SpecError) as info:
        load_space(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == field
    assert needle in err.message, err.message


def test_values_valid_only_in_combination_are_left_to_the_search(tmp_path: Path) -> None:
    # 7 heads do not divide 320 but divide 448: allowed, since dims.3 is searched too.
    path = write_space(
        tmp_path,
        axes={"dims.3": {"choices": [320, 448]}, "num_heads.3": {"choices": [7, 10]}},
    )
    space = load_space(path)
    bad = evaluate(space, {"dims.3": 320, "num_heads.3": 7})
    assert not bad.valid and "num_heads[3]" in bad.error
    assert evaluate(space, {"dims.3": 448, "num_heads.3": 7}).valid


def test_every_choice_of_a_long_list_is_checked(tmp_path: Path) -> None:
    # more than the 64 values a range is probed at: each listed choice is still checked
    ratios = [round(1.0 + 0.1 * i, 1) for i in range(70)]
    space = load_space(write_space(tmp_path, axes={"mlp_ratios.2": {"choices": ratios}}))
    assert space.axes[0].values() == tuple(ratios)
    path = write_space(tmp_path, axes={"mlp_ratios.2": {"choices": [*ratios[:40], -1.0]}})
    with pytest.raises(SpecError, match="value -1.0 is rejected") as info:
        load_space(path)
    assert info.value.field == "axes.mlp_ratios.2"


@pytest.mark.parametrize("strategy", ["grid", "exact"])
def test_grid_and_exact_need_finite_axes(tmp_path: Path, strategy: str) -> None:
    path = write_space(
        tmp_path, strategy=strategy, axes={"mlp_ratios.2": {"low": 2.0, "high": 8.0}}
    )
    with pytest.raises(SpecError, match=f"axes.mlp_ratios.2: strategy {strategy} needs finite"):
        load_space(path)


def test_float_and_log_axes(tmp_path: Path) -> None:
    path = write_space(
        tmp_path,
        axes={
            "mlp_ratios.2": {"low": 2.0, "high": 8.0, "step": 2.0},
            "depths.3": {"low": 1, "high": 8, "log": True},
        },
    )
    space = load_space(path)
    assert space.axes[0].values() == (2.0, 4.0, 6.0, 8.0)
    assert space.axes[1].values() == tuple(range(1, 9))
    assert space.size == 32


def test_overrides(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path)).with_overrides(max_gmacs=1.5, img_size=224)
    assert [(b.metric, b.max) for b in space.budgets] == [("gmacs", 1.5)]
    assert space.base["img_size"] == 224
    with pytest.raises(SpecError, match="img_size"):
        load_space(write_space(tmp_path)).with_overrides(img_size=100)
    assert SMALL["img_size"] == 128
