"""MetaBuild: a meta-device build without running weight initialisers, otherwise unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hirisearch.cost.meta import MetaBuild
from hirisearch.cost.ops import OpRecorder
from hirisearch.models import get_family
from hirisearch.models.resolution import as_hw, size_key
from hirisearch.spec import load_spec
from hirisearch.targets import resolve
from tests.conftest import shipped_specs, spec_id


def _layout(model: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype, str]]:
    return [(k, tuple(v.shape), v.dtype, v.device.type) for k, v in model.state_dict().items()]


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_metabuild_builds_the_same_model_as_a_meta_device_context(path) -> None:
    spec = load_spec(path)
    family = get_family(spec.family)
    plan = family.plan(spec, as_hw(min(family.test_sizes(spec), key=size_key)))
    with torch.device("meta"):
        reference = family.build(plan, device="meta")
    with MetaBuild():
        model = family.build(plan, device="meta")
    assert _layout(model) == _layout(reference)
    assert {d for *_, d in _layout(model)} == {"meta"}


@pytest.mark.parametrize("name", ["timm:vit_tiny_patch16_224", "timm:convnext_atto"])
def test_metabuild_builds_timm_models_unchanged(name) -> None:
    build = resolve(name).at(224).build
    with torch.device("meta"):
        reference = build(device="meta")
    with MetaBuild():
        model = build(device="meta")
    assert _layout(model) == _layout(reference)


def test_metabuild_skips_initialisers_on_meta_tensors_only() -> None:
    with MetaBuild():
        meta = torch.empty(8, 8)  # the default device is meta, as in torch.device("meta")
        assert meta.is_meta
        with OpRecorder() as rec:
            out = nn.init.trunc_normal_(meta, std=0.02)
            nn.init.kaiming_uniform_(meta)
            meta.uniform_()
        assert out is meta
        assert not rec.ops  # nothing dispatched
        real = nn.init.constant_(torch.zeros(3, device="cpu"), 2.0)  # real values still written
        assert real.tolist() == [2.0, 2.0, 2.0]
        layer = nn.Linear(4, 4, device="cpu")
        assert layer.weight.abs().sum() > 0 and layer.weight.abs().max() <= 0.5
    with torch.device("meta"), OpRecorder() as rec:
        nn.init.trunc_normal_(torch.empty(8, 8), std=0.02)
    assert rec.ops  # without MetaBuild the initialiser dispatches on meta
