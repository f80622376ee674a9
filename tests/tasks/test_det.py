"""Detection and semantic-FPN task presets: the published rows (Swin + Mask R-CNN / Cascade Mask
R-CNN on COCO at 1280x800), the proposal convention, a real forward pass, and the errors the
parts raise. Parity at every module path is :mod:`tests.tasks.test_tasks`' (every preset)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hirisearch.errors import SpecError
from hirisearch.spec import load_spec
from hirisearch.tasks.model import cost_task, plan_task
from hirisearch.tasks.model_nn import build_task
from hirisearch.tasks.presets import get_preset
from tests.harness import assert_task_parity

#: Published rows of the Swin detection repository's README (params in M as printed, GFLOPs as
#: mmdetection's get_flops printed them at 1280x800): spec, preset, params_m, gflops.
ROWS = (
    ("specs/swin/t.yaml", "coco-maskrcnn", 48, 267),
    ("specs/swin/s.yaml", "coco-maskrcnn", 69, 359),
    ("specs/swin/t.yaml", "coco-cascade", 86, 745),
    ("specs/swin/s.yaml", "coco-cascade", 107, 838),
    ("specs/swin/b.yaml", "coco-cascade", 145, 982),
)
GFLOPS_TOLERANCE = 0.02


@pytest.mark.parametrize(("spec", "preset", "params_m", "gflops"), ROWS)
def test_published_detection_rows(spec: str, preset: str, params_m: int, gflops: int) -> None:
    plan = plan_task(load_spec(spec), preset)
    assert plan.img_hw == (800, 1280)
    total = cost_task(plan).total
    assert round(total.params / 1e6) == params_m
    assert abs(total.macs / 1e9 - gflops) <= GFLOPS_TOLERANCE * gflops, total.macs / 1e9


DET_PRESETS = (
    "coco-maskrcnn",
    "coco-maskrcnn-1333",
    "coco-cascade",
    "coco-vitdet",
    "ade-fpn",
    "cityscapes-fpn",
)


@pytest.mark.parametrize("preset", DET_PRESETS)
def test_parity_on_a_non_square_size(preset: str) -> None:
    """Every module path of backbone, neck and head at 200x264 (levels of odd sizes)."""
    assert_task_parity(load_spec("specs/swin/t.yaml"), preset, (200, 264))


def test_parity_of_the_published_model_at_its_size() -> None:
    """Swin-T + Mask R-CNN at 800x1280, traced at every module path."""
    assert_task_parity(load_spec("specs/swin/t.yaml"), "coco-maskrcnn")


def test_the_proposal_convention_is_stated_and_settable() -> None:
    spec = load_spec("specs/swin/t.yaml")
    plan = plan_task(spec, "coco-maskrcnn", 224)
    text = " ".join(plan.conventions)
    assert "1000 proposals per image" in text and "first 100" in text and "RoIAlign" in text
    tree = cost_task(plan)
    half = replace(get_preset("coco-maskrcnn"), head=("mask_rcnn", {"proposals": 500}))
    tree_half = cost_task(plan_task(spec, half, 224))
    box, box_half = tree.child("head.bbox_head").total, tree_half.child("head.bbox_head").total
    assert box.macs == 2 * box_half.macs and box.params == box_half.params
    assert tree.child("head.mask_head").total == tree_half.child("head.mask_head").total
    assert tree.child("neck").total == tree_half.child("neck").total


def test_cascade_has_three_stages_of_4conv1fc_box_heads() -> None:
    tree = cost_task(plan_task(load_spec("specs/swin/t.yaml"), "coco-cascade", 224))
    heads = tree.child("head.bbox_head")
    assert [n for n, _ in heads.children] == ["0", "1", "2"]
    assert [n for n, _ in heads.child("0.shared_convs").children] == ["0", "1", "2", "3"]
    assert [n for n, _ in tree.child("head.mask_head").children] == ["0", "1", "2"]
    # 4 convs (no bias, BN), 1 fc, cls 81, reg 320: per stage
    stage = 4 * (256 * 256 * 9 + 2 * 256) + (256 * 49 * 1024 + 1024) + 1024 * 81 + 81
    assert heads.child("0").total.params == stage + 1024 * 320 + 320


def test_detector_forward_runs_with_fixed_shapes() -> None:
    plan = plan_task(load_spec("specs/swin/t.yaml"), "coco-maskrcnn", (224, 224))
    model = build_task(plan).eval()
    with torch.inference_mode():
        outs = model(torch.randn(2, *plan.input_shape))
    levels = plan.neck.plan.out
    assert len(outs) == 2 * len(levels) + 3
    for i, lv in enumerate(levels):
        assert tuple(outs[2 * i].shape) == (2, 3, *lv.hw)
        assert tuple(outs[2 * i + 1].shape) == (2, 12, *lv.hw)
    cls, reg, masks = outs[-3:]
    assert tuple(cls.shape) == (2000, 81) and tuple(reg.shape) == (2000, 320)
    assert tuple(masks.shape) == (200, 80, 28, 28)
    assert all(torch.isfinite(o).all() for o in outs)


def test_semantic_fpn_gives_logits_at_the_finest_level() -> None:
    plan = plan_task(load_spec("specs/swin/t.yaml"), "ade-fpn", 224)
    assert [lv.stride for lv in plan.neck.plan.out] == [4, 8, 16, 32]
    model = build_task(plan).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, *plan.input_shape))
    assert tuple(out.shape) == (1, 150, *plan.pyramid[0].hw)
    assert cost_task(plan).out_shape == (150, *plan.pyramid[0].hw)


def test_simple_feature_pyramid_levels() -> None:
    """ViTDet's pyramid of the last map (Swin-T's stride-32 level at 224: 7x7)."""
    plan = plan_task(load_spec("specs/swin/t.yaml"), "coco-vitdet", 224)
    out = plan.neck.plan.out
    assert [(lv.hw, lv.stride) for lv in out] == [
        ((28, 28), 8),
        ((14, 14), 16),
        ((7, 7), 32),
        ((3, 3), 64),
        ((2, 2), 128),
    ]
    names = [n for n, _ in cost_task(plan).child("neck").children]
    assert names == ["simfp_3", "simfp_4", "simfp_5", "simfp_6"]


@pytest.mark.parametrize(
    ("neck", "head", "field"),
    [
        (("fpn", {"num_outs": 3}), ("mask_rcnn", {}), "neck.num_outs"),
        (("sfp", {"scale_factors": [3.0]}), ("mask_rcnn", {}), "neck.scale_factors"),
        (("sfp", {"scale_factors": [1.0, 2.0]}), ("mask_rcnn", {}), "neck.scale_factors"),
        (None, ("mask_rcnn", {}), "head"),
        (("fpn", {}), ("mask_rcnn", {"proposals": 0}), "head.proposals"),
        (("fpn", {}), ("mask_rcnn", {"box_norm": "rms"}), "head.box_norm"),
    ],
)
def test_bad_settings_name_the_field(neck, head, field: str) -> None:
    preset = replace(get_preset("coco-maskrcnn"), neck=neck, head=head)
    with pytest.raises(SpecError) as e:
        plan_task(load_spec("specs/swin/t.yaml"), preset, 224)
    assert e.value.field == field, e.value
