"""Backbones put under task heads: ``timm:`` models through their ``features_only`` maps (the
pyramid read from ``feature_info`` equals a real forward pass's maps; the whole task model's
params exact and MACs at parity), and the dense forms of hirisearch's families against timm's
own features network where both build the same model."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from hirisearch.cli import app
from hirisearch.errors import SpecError
from hirisearch.models import get_family
from hirisearch.spec import load_spec
from hirisearch.tasks.model import cost_task, dense_backbone, plan_task
from hirisearch.tasks.model_nn import build_task
from hirisearch.tasks.pyramid import describe
from hirisearch.tasks.timm_backbone import build_timm_dense, cost_timm_dense, dense_levels
from tests.harness import assert_plan_parity, assert_task_parity

runner = CliRunner()


@pytest.mark.parametrize(
    ("name", "hw", "levels"),
    [
        ("timm:resnet50", (64, 96), "256@16x24/4, 512@8x12/8, 1024@4x6/16, 2048@2x3/32"),
        ("timm:convnext_tiny", (96, 64), "96@24x16/4, 192@12x8/8, 384@6x4/16, 768@3x2/32"),
        ("timm:swin_tiny_patch4_window7_224", (224, 224), "96@56x56/4, 192@28x28/8, "
         "384@14x14/16, 768@7x7/32"),
        ("timm:deit_tiny_patch16_224", (224, 224), "192@14x14/16"),
    ],
)  # fmt: skip
def test_timm_pyramid_is_the_features_output(name, hw, levels) -> None:
    plan, pyramid = dense_backbone(name, hw)
    assert describe(pyramid) == levels
    with torch.inference_mode():
        outs = build_timm_dense(plan).eval()(torch.randn(2, 3, *hw))
    assert [tuple(o.shape) for o in outs] == [(2, lv.channels, *lv.hw) for lv in pyramid]


def test_dense_levels_keep_the_last_map_of_each_stride_from_4() -> None:
    info = [{"reduction": r} for r in (2, 4, 4, 8, 16, 16, 32, 64)]
    assert dense_levels(info) == (3, 5, 6, 7)
    assert dense_levels([{"reduction": 16}] * 12) == (11,)


@pytest.mark.parametrize("name", ["timm:resnet50", "timm:convnext_tiny"])
def test_timm_backbone_under_upernet(name) -> None:
    """The whole task model: params exact, traced MACs == the tree at every path (the
    backbone's part is its traced count, the head's analytic)."""
    plan = plan_task(name, "ade-upernet", 128)
    tree = cost_task(plan)
    assert [n for n, _ in tree.children] == ["backbone", "head"]
    assert_plan_parity(plan, tree, build_task)


def test_timm_features_equal_the_vit_dense_form() -> None:
    """timm's features-only DeiT-T (final norm and head pruned) is hirisearch's dense DeiT-T:
    the same params and MACs, so the analytic dense form agrees with timm's own."""
    ours = get_family("vit")
    plan = ours.dense(ours.plan(load_spec("specs/deit/t.yaml"), 224))
    theirs, _ = dense_backbone("timm:deit_tiny_patch16_224", (224, 224))
    a, b = ours.cost(plan).total, cost_timm_dense(theirs).total
    assert (a.params, a.macs) == (b.params, b.macs)


def test_a_model_timm_cannot_make_features_only_is_one_line(monkeypatch) -> None:
    import timm

    def refuse(*args, **kwargs):
        raise RuntimeError("features_only not implemented for Vision Transformer models.\nmore")

    plan, _ = dense_backbone("timm:resnet50", (64, 64))
    monkeypatch.setattr(timm, "create_model", refuse)
    with pytest.raises(SpecError, match=r"timm cannot build timm:resnet50 features_only") as e:
        build_timm_dense(plan)
    assert "\n" not in str(e.value)


def test_hiri_vit_and_piip_under_upernet_at_the_preset_size() -> None:
    """HIRI-ViT-S (five stages) and PIIP-TSB's detection backbone under UperNet at 512x512."""
    for path in ("specs/hiri_vit/s.yaml", "specs/piip/tsb_det_1120_896_448.yaml"):
        assert_task_parity(load_spec(path), "ade-upernet")


def test_non_square_task_models() -> None:
    """At (height, width): HIRI-ViT-S under UperNet, timm's ResNet-50 under semantic FPN."""
    assert_task_parity(load_spec("specs/hiri_vit/s.yaml"), "ade-upernet", (256, 384))
    plan = plan_task("timm:resnet50", "ade-fpn", (128, 192))
    assert describe(plan.pyramid).startswith("256@32x48/4")
    assert_plan_parity(plan, cost_task(plan), build_task)


def test_task_profiles_on_the_command_line(tmp_path) -> None:
    """``--task`` takes a ``timm:`` model (its conventions say it is traced), and a family with
    a counting path of its own (PIIP's) profiles as a task model without it."""
    res = runner.invoke(
        app, ["profile", "timm:resnet18", "--task", "ade-segformer", "--res", "128",
              "--out", str(tmp_path / "a")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "timm:resnet18+ade-segformer" in res.stdout and "counted by tracing" in res.stdout
    res = runner.invoke(
        app, ["profile", "specs/piip/tsb_det_1120_896_448.yaml", "--task", "ade-upernet",
              "--res", "224", "--no-trace", "--out", str(tmp_path / "b")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "PIIP-TSB-det-1120+ade-upernet" in res.stdout


def test_convnext_tiny_upernet_published_row() -> None:
    """ConvNeXt-T + UperNet on ADE20K (Liu et al. 2022, Table 3: 60M params, 939 GFLOPs at
    512x2048, mmsegmentation's count) through ``timm:convnext_tiny``'s features: params to the
    paper's rounding, GFLOPs within 2%. (mmseg's ConvNeXt adds a LayerNorm per output, 2880
    params, which timm's features network has not.)"""
    tree = cost_task(plan_task("timm:convnext_tiny", "ade-upernet", (512, 2048)))
    assert round(tree.total.params / 1e6) == 60
    assert abs(tree.total.macs / 1e9 - 939) / 939 < 0.02
