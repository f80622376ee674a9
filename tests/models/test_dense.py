"""Every family's dense form (``Family.dense``): the backbone without its classifier, which a task
model puts under a neck and a head. The same parity as the classification form (params ==
``numel()``, analytic MACs == traced MACs at every module path) on every shipped spec, and the
levels ``Family.pyramid`` states equal to a real forward pass's maps."""

from __future__ import annotations

import pytest
import torch

from hirisearch.models import FAMILIES, get_family
from hirisearch.spec import load_spec
from tests.conftest import shipped_specs, spec_id, spec_marks
from tests.harness import assert_plan_parity
from tests.models.test_parity import REAL_FORWARD_MAX_PARAMS

DENSE = sorted(name for name, family in FAMILIES.items() if family.dense is not None)


def _specs() -> list[object]:
    return [
        pytest.param(p, id=spec_id(p), marks=spec_marks(p))
        for p in shipped_specs()
        if load_spec(p).family in DENSE
    ]


def _dense_plan(spec, size):
    family = get_family(spec.family)
    return family, family.dense(family.plan(spec, size))


def test_families_with_a_dense_form() -> None:
    assert {"hiri_vit", "resformer", "vit"} <= set(DENSE)


@pytest.mark.parametrize("path", _specs())
def test_dense_parity(path) -> None:
    spec = load_spec(path)
    family = get_family(spec.family)
    family, plan = _dense_plan(spec, family.test_sizes(spec)[0])
    tree = family.cost(plan)
    assert "head" not in dict(tree.children)
    assert_plan_parity(family, plan)


@pytest.mark.parametrize("path", _specs())
def test_pyramid_is_the_forward_output(path) -> None:
    """Channels and grid of every level equal the built dense model's maps; the grid is the input
    over the level's stride (rounded up)."""
    spec = load_spec(path)
    family, plan = _dense_plan(spec, get_family(spec.family).forward_size(spec))
    levels = family.pyramid(plan)
    device = "meta" if family.cost(plan).total.params > REAL_FORWARD_MAX_PARAMS else "cpu"
    with torch.device(device), torch.inference_mode():
        outs = family.build(plan, device=device).eval()(torch.randn(2, *plan.input_shape))
    assert isinstance(outs, list)
    assert [tuple(o.shape) for o in outs] == [(2, lv.channels, *lv.hw) for lv in levels]
    _, h, w = plan.input_shape
    for lv in levels:
        assert lv.hw == (-(-h // lv.stride), -(-w // lv.stride)), lv
    assert [lv.stride for lv in levels] == sorted(lv.stride for lv in levels)
