"""One source of truth, enforced: for every shipped spec at its test sizes, the analytic cost equals
the built model (params exactly, per module path) and the traced count (MACs per path within 0.1%)."""

from __future__ import annotations

import pytest
import torch

from hirisearch.models import get_family
from hirisearch.models.resolution import as_hw, size_label
from hirisearch.spec import load_spec
from tests.conftest import spec_id, structural_specs
from tests.harness import assert_parity, assert_plan_parity

#: Above this many parameters the forward pass runs on the meta device (shapes only): InternViT-6B
#: models would need tens of GB of real weights.
REAL_FORWARD_MAX_PARAMS = 2_000_000_000


def _cases() -> list[tuple[object, int]]:
    cases = []
    for path in structural_specs():
        spec = load_spec(path)
        for size in get_family(spec.family).test_sizes(spec):
            cases.append(pytest.param(path, size, id=f"{spec_id(path)}@{size_label(size)}"))
    return cases


@pytest.mark.parametrize(("path", "size"), _cases())
def test_analytic_matches_built_and_traced(path, size) -> None:
    spec = load_spec(path)
    assert_parity(spec, size)


def _dense_cases() -> list[tuple[object, int]]:
    """Every shipped spec of a family with a dense form, at its test sizes."""
    return [
        c
        for c in _cases()
        if get_family(load_spec(c.values[0]).family).dense is not None  # type: ignore[attr-defined]
    ]


def _dense_plan(spec, size):
    family = get_family(spec.family)
    return family, family.dense(family.plan(family.dense_spec(spec), size))


@pytest.mark.parametrize(("path", "size"), _dense_cases())
def test_dense_form_matches_built_and_traced(path, size) -> None:
    """The same parity for the backbone's dense form (``Family.dense``: the task models')."""
    family, plan = _dense_plan(load_spec(path), size)
    assert_plan_parity(plan, family.cost(plan), family.build)


@pytest.mark.parametrize(("path", "size"), _dense_cases()[:1])
def test_dense_forward_gives_the_pyramid(path, size) -> None:
    """A real forward pass of the dense form returns one (B, C, H, W) map per pyramid level."""
    family, plan = _dense_plan(load_spec(path), size)
    model = family.build(plan).eval()
    with torch.inference_mode():
        outs = model(torch.randn(2, *plan.input_shape))
    levels = family.pyramid(plan)
    assert [tuple(o.shape) for o in outs] == [(2, lv.channels, *lv.hw) for lv in levels]
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize("path", [pytest.param(p, id=spec_id(p)) for p in structural_specs()])
def test_forward_output_shape(path) -> None:
    """A real forward pass at the family's smallest test size gives the planned output shape
    (on the meta device for models too large to hold)."""
    spec = load_spec(path)
    family = get_family(spec.family)
    plan = family.plan(spec, as_hw(family.forward_size(spec)))
    tree = family.cost(plan)
    device = "meta" if tree.total.params > REAL_FORWARD_MAX_PARAMS else "cpu"
    with torch.device(device):
        model = family.build(plan, device=device).eval()
        with torch.inference_mode():
            out = model(torch.randn(2, *plan.input_shape))
    assert tuple(out.shape) == (2, *tree.out_shape)
    if device == "cpu":
        assert torch.isfinite(out).all()
