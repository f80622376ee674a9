"""The task framework (:mod:`hirisearch.tasks`): registries, planning and the parity of every
backbone with a dense form under every task preset's neck and head, at every module path."""

from __future__ import annotations

import pytest
import torch

from hirisearch.errors import SpecError, UnknownModelError
from hirisearch.models import FAMILIES, get_family
from hirisearch.spec import load_spec
from hirisearch.tasks.model import cost_task, plan_task
from hirisearch.tasks.model_nn import build_task
from hirisearch.tasks.parts import PARTS, Part, get_part
from hirisearch.tasks.presets import PRESETS, get_preset
from hirisearch.tasks.pyramid import describe
from tests.harness import assert_task_parity

#: One shipped spec per family with a dense form (a family gaining one is tested with no new
#: test code once it is named here by its smallest spec).
DENSE_SPECS = {
    "swin": "specs/swin/t.yaml",
    "hrvit": "specs/hrvit/b1.yaml",
    "hiri_vit": "specs/hiri_vit/s.yaml",
    "resformer": "specs/resformer/t.yaml",
    "vit": "specs/deit/t.yaml",
    "piip": "specs/piip/tsb_det_1120_896_448.yaml",
}
#: Small sizes every preset's head is checked at (the parity is size-independent code).
SIZES = (224, 320)


def _dense_families() -> list[str]:
    return [name for name in FAMILIES if get_family(name).dense is not None]


def test_every_dense_family_is_tested() -> None:
    assert sorted(_dense_families()) == sorted(DENSE_SPECS)


@pytest.mark.parametrize("family", sorted(DENSE_SPECS))
@pytest.mark.parametrize("task", sorted(PRESETS))
@pytest.mark.parametrize("size", SIZES)
def test_task_model_matches_built_and_traced(family: str, task: str, size: int) -> None:
    spec, preset = load_spec(DENSE_SPECS[family]), get_preset(task)
    one_level = len(plan_task(spec, "ade-segformer", size).pyramid) == 1
    if one_level and preset.neck is None and preset.head[0] == "upernet":
        # a plain ViT's one map needs a neck that fans it out (ViTDet's simple feature pyramid)
        with pytest.raises(SpecError, match="aux_level"):
            plan_task(spec, task, size)
        return
    assert_task_parity(spec, task, size)


@pytest.mark.parametrize("family", sorted(DENSE_SPECS))
@pytest.mark.parametrize("task", ["ade-upernet", "ade-segformer"])
def test_task_model_parity_on_a_non_square_size(family: str, task: str) -> None:
    spec = load_spec(DENSE_SPECS[family])
    plan = plan_task(spec, "ade-segformer", (256, 384))  # every family plans non-square sizes
    if len(plan.pyramid) == 1 and task == "ade-upernet":  # a plain ViT's one map: no UperNet
        with pytest.raises(SpecError, match="aux_level"):
            plan_task(spec, task, (256, 384))
        return
    assert_task_parity(spec, task, (256, 384))


def test_task_forward_runs_and_gives_logits_at_the_finest_level() -> None:
    plan = plan_task(load_spec("specs/swin/t.yaml"), "ade-upernet", 224)
    tree = cost_task(plan)
    model = build_task(plan).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, *plan.input_shape))
    assert tuple(out.shape) == (1, 150, *plan.pyramid[0].hw)
    assert tree.out_shape == (150, *plan.pyramid[0].hw)
    assert torch.isfinite(out).all()


def test_plan_reads_the_preset_and_res_overrides_its_size() -> None:
    spec = load_spec("specs/swin/t.yaml")
    plan = plan_task(spec, "ade-upernet")
    assert plan.img_hw == get_preset("ade-upernet").img_size == (512, 512)
    assert describe(plan.pyramid) == "96@128x128/4, 192@64x64/8, 384@32x32/16, 768@16x16/32"
    assert plan_task(spec, "ade-upernet", 224).img_hw == (224, 224)
    assert [n for n, _ in cost_task(plan).children] == ["backbone", "head"]
    assert any("auxiliary" in c for c in plan.conventions)


def test_the_auxiliary_head_counts_params_not_macs() -> None:
    spec = load_spec("specs/swin/t.yaml")
    with_aux = cost_task(plan_task(spec, "ade-upernet", 224))
    aux = with_aux.child("head.auxiliary").total
    assert aux.params == (384 * 256 * 9 + 2 * 256) + (256 * 150 + 150)
    assert aux.macs == aux.acts == 0


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownModelError, match="valid: .*ade-upernet"):
        get_preset("ade-upernt")
    with pytest.raises(UnknownModelError, match="valid: .*upernet"):
        get_part("uppernet")
    with pytest.raises(UnknownModelError, match="is a head, not a neck"):
        get_part("upernet", "neck")


def test_a_family_without_a_dense_form_is_refused(monkeypatch) -> None:
    from dataclasses import replace

    import hirisearch.tasks.model as task_model

    family = replace(get_family("vit"), dense=None)
    monkeypatch.setattr(task_model, "get_family", lambda name: family)
    spec = load_spec("specs/deit/s.yaml")
    with pytest.raises(SpecError, match="no dense form"):
        plan_task(spec, "ade-upernet", 224)


def test_bad_part_settings_name_the_field() -> None:
    from dataclasses import replace

    preset = replace(get_preset("ade-upernet"), head=("upernet", {"channels": 0}))
    with pytest.raises(SpecError, match="head.channels"):
        plan_task(load_spec("specs/swin/t.yaml"), preset, 224)


def test_registry_refuses_duplicates_and_registers_toy_parts() -> None:
    up = get_part("upernet")
    with pytest.raises(ValueError, match="already registered"):
        PARTS.register(up)
    toy = Part("toy-head", "head", "toy", up.config, up.plan, up.cost, up.build)
    PARTS.register(toy)
    try:
        assert get_part("toy-head") is toy
    finally:
        PARTS.unregister("toy-head")
    assert "toy-head" not in PARTS
