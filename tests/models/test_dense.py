"""The pyramid every family's dense form (``Family.dense``) states is what its built model
outputs: channels and grid of each level equal a real forward pass's maps (on the meta device
for models too large to hold), and the grid is the input over the level's stride, within one cell.
(Its parity, analytic against built and traced at every module path, is in test_parity.py.)"""

from __future__ import annotations

import pytest
import torch

from hirisearch.models import FAMILIES, get_family
from hirisearch.spec import load_spec
from tests.conftest import spec_id, structural_specs
from tests.models.test_parity import REAL_FORWARD_MAX_PARAMS

DENSE = sorted(name for name, family in FAMILIES.items() if family.dense is not None)


def _specs() -> list[object]:
    return [
        pytest.param(p, id=spec_id(p)) for p in structural_specs() if load_spec(p).family in DENSE
    ]


def test_families_with_a_dense_form() -> None:
    assert {"hiri_vit", "resformer", "piip", "vit"} <= set(DENSE)


@pytest.mark.parametrize("path", _specs())
def test_pyramid_is_the_forward_output(path) -> None:
    spec = load_spec(path)
    family = get_family(spec.family)
    plan = family.dense(family.plan(family.dense_spec(spec), family.forward_size(spec)))
    levels = family.pyramid(plan)
    device = "meta" if family.cost(plan).total.params > REAL_FORWARD_MAX_PARAMS else "cpu"
    with torch.device(device), torch.inference_mode():
        outs = family.build(plan, device=device).eval()(torch.randn(2, *plan.input_shape))
    assert isinstance(outs, list)
    assert [tuple(o.shape) for o in outs] == [(2, lv.channels, *lv.hw) for lv in levels]
    _, h, w = plan.input_shape
    for lv in levels:  # a padded grid holds one cell more, a pooled one may hold one less
        assert abs(lv.hw[0] - h / lv.stride) < 1 and abs(lv.hw[1] - w / lv.stride) < 1, lv
    assert [lv.stride for lv in levels] == sorted(lv.stride for lv in levels)
