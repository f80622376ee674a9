"""Non-square inputs in ResFormer, HRViT and PIIP: every size is planned per axis (token grids,
branch grids, PIIP's branch images, HRViT's stripes), a refused size names its axis, and a real
forward pass lays its maps out as (height, width). Traced parity on non-square sizes runs for every
shipped spec through ``Family.test_sizes`` (tests/models/test_parity.py; that each family has one:
tests/models/test_family_contract.py)."""

from __future__ import annotations

import pytest
import torch

from hirisearch.errors import ResolutionError, SpecError
from hirisearch.models import get_family
from hirisearch.models.piip_convention import cost_piip_repo
from hirisearch.models.resolution import as_hw
from hirisearch.spec import load_spec
from hirisearch.spec.load import parse_spec
from tests.conftest import SPECS
from tests.harness import assert_parity


@pytest.mark.parametrize(
    ("path", "size", "axis", "near"),
    [
        ("resformer/t.yaml", (224, 330), "width 330", "224x336 or 224x320"),
        ("resformer/t.yaml", (250, 320), "height 250", "256x320 or 240x320"),
        ("hrvit/b1.yaml", (200, 224), "height 200", "192x224 or 224"),
        ("hrvit/b1.yaml", (224, 250), "width 250", "224x256 or 224"),
        ("piip/tsb_cls_368.yaml", (360, 640), "height 360", "352x640 or 368x640"),
        ("piip/tsb_cls_368.yaml", (368, 650), "width 650", "368x656 or 368x640"),
    ],
)
def test_refused_size_names_the_axis(path, size, axis, near) -> None:
    spec = load_spec(SPECS / path)
    with pytest.raises(ResolutionError) as exc:
        get_family(spec.family).plan(spec, size)
    msg = str(exc.value)
    assert exc.value.field == "img_size"
    assert axis in msg and f"nearest valid: {near}" in msg, msg
    assert "\n" not in msg


def test_resformer_token_grid_per_axis() -> None:
    fam = get_family("resformer")
    plan = fam.plan(load_spec(SPECS / "resformer/s.yaml"), (224, 320))
    assert plan.hw == (14, 20) and plan.tokens == 14 * 20 + 1
    assert plan.input_shape == (3, 224, 320)


def test_resformer_pads_each_axis_on_its_own() -> None:
    spec = load_spec(SPECS / "resformer/t.yaml").model_copy(update={"pad": True})
    plan = get_family("resformer").plan(spec, (200, 320))
    assert plan.padded_img == (208, 320) and plan.hw == (13, 20)
    assert_parity(spec, (200, 320))


def test_hrvit_branch_grids_and_stripes_per_axis() -> None:
    fam = get_family("hrvit")
    plan = fam.plan(load_spec(SPECS / "hrvit/b1.yaml"), (160, 224))
    assert plan.head.hws == ((40, 56), (20, 28), (10, 14), (5, 7))
    # branch 3 (128 channels, window 7) on 10 x 14: each half runs 2 heads of 32 channels; the
    # rows pad 10 -> 14, two horizontal stripes of 7 x 14 tokens; the columns need no padding,
    # two vertical stripes of 7 x 10 tokens
    attn = fam.cost(plan).child("groups.5.branches.2.blocks.0.attn").total.attn
    horizontal = 2 * 2 * (7 * 14) ** 2 * 32 * 2  # heads x stripes x tokens^2 x width x (QK, AV)
    vertical = 2 * 2 * (7 * 10) ** 2 * 32 * 2
    assert attn == horizontal + vertical


def test_piip_scales_each_branch_per_axis() -> None:
    fam = get_family("piip")
    plan = fam.plan(load_spec(SPECS / "piip/tsb_cls_368.yaml"), (448, 640))
    # 128/192/368 of 368: height 448 -> 160/240/448, width 640 -> 224/336/640
    assert [b.img_size for b in plan.branches] == [(160, 224), (240, 336), (448, 640)]
    assert [b.hw for b in plan.branches] == [(10, 14), (15, 21), (28, 40)]
    assert plan.sections[0] == ("branch1 768@160x224", "branches.0")


def _tiny(**over) -> dict:
    spec = {
        "family": "piip",
        "name": "tiny",
        "branches": [
            {"img_size": [32, 48], "dim": 64, "depth": 2, "num_heads": 4},
            {"img_size": [64, 96], "dim": 32, "depth": 2, "num_heads": 2},
        ],
        "interactions": 2,
    }
    spec.update(over)
    return spec


def test_piip_spec_takes_height_and_width() -> None:
    spec = parse_spec(_tiny())
    assert as_hw(spec.img_size) == (64, 96)
    plan = get_family("piip").plan(spec, None)
    assert [b.hw for b in plan.branches] == [(2, 3), (4, 6)]
    assert_parity(spec, None)


def test_piip_branch_side_off_the_patch_names_the_axis() -> None:
    bad = _tiny()
    bad["branches"][0]["img_size"] = [32, 40]
    with pytest.raises(SpecError) as exc:
        parse_spec(bad)
    msg = exc.value.one_line()
    assert "branches[0].img_size" in msg and "width 40" in msg, msg


def test_piip_convention_clips_windows_per_axis() -> None:
    """A window of 8 on a 4 x 12 grid covers 4 x 8 tokens: ``2 * N * 4 * 8 * D``."""
    spec = parse_spec(
        _tiny(
            cls_token=False,
            branches=[
                {"img_size": [32, 96], "dim": 64, "depth": 2, "num_heads": 4},
                {"img_size": [64, 192], "dim": 32, "depth": 2, "num_heads": 2, "window_size": 8},
            ],
        )
    )
    plan = get_family("piip").plan(spec, None)
    assert plan.branches[1].hw == (4, 12)
    attn = cost_piip_repo(plan).child("branches.1.blocks.0").total.attn
    assert attn == 2 * 48 * 4 * 8 * 32


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("resformer/t.yaml", (32, 64)),
        ("hrvit/b1.yaml", (64, 96)),
        ("piip/tsb_cls_368.yaml", (48, 96)),
    ],
)
def test_real_forward_at_a_nonsquare_size(path, size) -> None:
    spec = load_spec(SPECS / path)
    fam = get_family(spec.family)
    plan = fam.plan(spec, size)
    tree = fam.cost(plan)
    model = fam.build(plan).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, *plan.input_shape))
    assert tuple(out.shape) == (2, *tree.out_shape)
    assert torch.isfinite(out).all()


def test_hrvit_maps_are_height_by_width() -> None:
    fam = get_family("hrvit")
    plan = fam.plan(load_spec(SPECS / "hrvit/b1.yaml"), (64, 128))
    model = fam.build(plan).eval()
    with torch.inference_mode():
        maps = model.forward_features(torch.randn(1, *plan.input_shape))
    assert [tuple(m.shape[2:]) for m in maps] == list(plan.head.hws)
    assert plan.head.hws[-1] == (2, 4)


@pytest.mark.parametrize("output", ["merged", "dense"])
def test_piip_merged_outputs_at_a_nonsquare_size(output) -> None:
    plan = get_family("piip").plan(parse_spec(_tiny(output=output, cls_token=False)), None)
    tree = get_family("piip").cost(plan)
    model = get_family("piip").build(plan).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, *plan.input_shape))
    assert tuple(out.shape) == (1, *tree.out_shape)
    if output == "dense":
        assert tuple(out.shape[2:]) == (4, 6)  # the last branch's grid, height by width
