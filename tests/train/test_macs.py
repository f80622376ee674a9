"""Training MACs: the analytic count (cost tree + training twin) equals the traced count (forward
and backward run on meta) at every module path of every shipped spec, at two sizes; with
activation checkpointing too (recomputation included)."""

from __future__ import annotations

import pytest

from hirisearch.models import get_family
from hirisearch.models.resolution import size_label
from hirisearch.spec import load_spec
from hirisearch.train.cost import TrainModel
from hirisearch.train.trace import traced_train_macs
from hirisearch.train.types import TrainMacs
from tests.conftest import spec_id
from tests.train.conftest import FAMILY_SPECS, modelled_specs, sized


def _cases() -> list[object]:
    cases = []
    for path in modelled_specs():
        spec = load_spec(path)
        for size in get_family(spec.family).test_sizes(spec):
            cases.append(pytest.param(path, size, id=f"{spec_id(path)}@{size_label(size)}"))
    return cases


def assert_train_macs_parity(path, size, checkpoint="none") -> None:
    family, plan, build = sized(path, size)
    model = TrainModel.of(family, plan)
    analytic = model.macs_per_path(checkpoint)
    traced = traced_train_macs(build, plan.input_shape, checkpoint_units=model.units(checkpoint))
    for mpath, macs in analytic.items():
        got = traced.per_path.get(mpath, TrainMacs())
        assert macs == got, f"{checkpoint}: at {mpath!r}: analytic {macs} != traced {got}"
    assert analytic[""].backward > analytic[""].forward  # the check above is not vacuous


@pytest.mark.parametrize(("path", "size"), _cases())
def test_analytic_equals_traced_at_every_path(path, size) -> None:
    assert_train_macs_parity(path, size)


@pytest.mark.parametrize(
    ("family", "checkpoint"),
    [
        *((f, "blocks") for f in sorted(FAMILY_SPECS)),
        *((f, "stages") for f in ("hiri_vit", "hrvit", "swin")),
    ],
)
def test_with_checkpointing(family, checkpoint) -> None:
    path = FAMILY_SPECS[family]
    assert_train_macs_parity(
        path, get_family(load_spec(path).family).test_sizes(load_spec(path))[0], checkpoint
    )


def test_backward_counts_follow_the_rules() -> None:
    """DeiT-T: the backward is twice the forward except the patch embedding, which reads the
    image (weight gradient only); checkpointing blocks recomputes every block but its last
    projection (torch stops recomputing once the kept tensors are back)."""
    family, plan, _ = sized(FAMILY_SPECS["vit"], 224)
    model = TrainModel.of(family, plan)
    macs = model.macs_per_path()
    stem = macs["patch_embed.proj"].forward
    assert macs[""].backward == 2 * macs[""].forward - stem
    blocks = model.macs_per_path("blocks")
    assert blocks["blocks.0"].recompute == (
        macs["blocks.0"].forward - macs["blocks.0.mlp.fc2"].forward
    )
    assert blocks[""].total == macs[""].total + blocks[""].recompute


def test_dead_interaction_has_no_backward() -> None:
    """PIIP with class tokens classifies from them alone: its last interaction reaches no loss."""
    family, plan, _ = sized(FAMILY_SPECS["piip"])
    macs = TrainModel.of(family, plan).macs_per_path()
    last = f"interactions.{plan.interactions - 1}"
    assert macs[last].forward > 0 and macs[last].backward == 0


@pytest.mark.parametrize("checkpoint", ["none", "blocks", "stages"])
@pytest.mark.parametrize("family", sorted(FAMILY_SPECS))
def test_whole_model_count_is_the_root_of_the_per_path_count(family, checkpoint) -> None:
    fam, plan, _ = sized(FAMILY_SPECS[family])
    model = TrainModel.of(fam, plan)
    assert model.macs(checkpoint) == model.macs_per_path(checkpoint)[""]
