"""PIIP: published numbers through the repository's counting path, interactions, bad input, and a
real forward pass at detection resolution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hirisearch.cli import app
from hirisearch.errors import ResolutionError, SpecError
from hirisearch.models import get_family
from hirisearch.ops.profile import profile_target
from hirisearch.spec import load_spec
from hirisearch.spec.load import parse_spec
from hirisearch.targets import resolve
from tests.conftest import SPECS
from tests.harness import assert_parity

PIIP = get_family("piip")

# (spec, published params in M, published GFLOPs, GFLOPs tolerance): baselines.md reference checks,
# counted the way the PIIP repository counts (--convention piip).
REFERENCE = [
    ("piip/tsb_cls_368.yaml", 144.0, 17.4, 0.1),
    ("piip/sbl_cls_320.yaml", 488.8, 39.0, 0.1),
    ("piip/tsb_det_1120_896_448.yaml", 146.4, 243.1, 0.5),
]


def _tiny(**over) -> dict:
    spec = {
        "family": "piip",
        "name": "tiny",
        "branches": [
            {"img_size": 32, "dim": 64, "depth": 2, "num_heads": 4},
            {"img_size": 64, "dim": 32, "depth": 2, "num_heads": 2},
        ],
        "interactions": 2,
    }
    spec.update(over)
    return spec


@pytest.mark.parametrize(
    ("path", "params_m", "gflops", "tol"), REFERENCE, ids=[r[0] for r in REFERENCE]
)
def test_published_numbers_in_repo_convention(path, params_m, gflops, tol) -> None:
    r = profile_target(resolve(str(SPECS / path)), convention="piip")
    assert abs(r.params / 1e6 - params_m) < 0.05, r.params
    assert abs(r.macs / 1e9 - gflops) <= tol, r.macs
    assert r.macs_traced is None  # the traced count measures our convention, not theirs
    assert r.convention.startswith("PIIP repo convention")


def test_tsb_interactions_hold_29_72m_params() -> None:
    spec = load_spec(SPECS / "piip/tsb_cls_368.yaml")
    plan = PIIP.plan(spec, None)
    with torch.device("meta"):
        model = PIIP.build(plan, device="meta")
    built = sum(p.numel() for p in model.interactions.parameters())
    assert built == PIIP.cost(plan).child("interactions").total.params == 29_722_176
    assert round(built / 1e6, 2) == 29.72


@pytest.mark.parametrize("name", ["tsb_cls_368", "sbl_cls_320"])
def test_repo_convention_params_equal_ours_for_classification(name) -> None:
    plan = PIIP.plan(load_spec(SPECS / f"piip/{name}.yaml"), None)
    ours, repo = PIIP.cost(plan), PIIP.conventions[0].cost(plan)
    for section in ("branches.0", "branches.1", "branches.2", "interactions"):
        assert ours.child(section).total.params == repo.child(section).total.params, section


def test_dense_backbone_costs_more_than_published() -> None:
    """The published 243.1 G uses the classification class; the real dense merge adds convs."""
    plan = PIIP.plan(load_spec(SPECS / "piip/tsb_det_1120_896_448.yaml"), None)
    ours = PIIP.cost(plan)
    merge = ours.child("merge").total.macs
    assert merge > 60e9  # two 3x3 convs per branch at the branches' grids
    assert ours.total.macs / PIIP.conventions[0].cost(plan).total.macs > 1.2


def test_cli_convention_piip_json() -> None:
    res = CliRunner().invoke(
        app,
        [
            "profile",
            str(SPECS / "piip/tsb_det_1120_896_448.yaml"),
            "--convention",
            "piip",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.splitlines()[0])
    assert abs(doc["gmacs"] - 243.1) <= 0.5
    assert doc["macs_traced"] is None


def test_cli_unknown_convention_is_one_line() -> None:
    res = CliRunner().invoke(app, ["profile", str(SPECS / "s.yaml"), "--convention", "piip"])
    assert res.exit_code != 0
    assert "convention 'piip' is not available" in res.output
    assert "valid: ours" in res.output


def test_interactions_are_identity_at_init() -> None:
    plan = PIIP.plan(parse_spec(_tiny()), None)
    model = PIIP.build(plan).eval()
    x = torch.randn(2, *plan.input_shape)
    with torch.inference_mode():
        out = model(x)
        saved = [blk.forward for blk in model.interactions]
        for blk in model.interactions:
            blk.forward = lambda xs, hws: xs  # the branches alone
        alone = model(x)
        for blk, fwd in zip(model.interactions, saved, strict=True):
            blk.forward = fwd
        torch.testing.assert_close(out, alone, rtol=0, atol=0)
        # guard: with non-zero gammas the interactions do change the output
        for name, p in model.named_parameters():
            if name.endswith(("ca_gamma", "cffn_gamma")):
                p.fill_(0.5)
        assert not torch.allclose(model(x), alone, atol=1e-4)


@pytest.mark.parametrize("output", ["classification", "merged", "dense"])
def test_outputs_shapes(output) -> None:
    plan = PIIP.plan(parse_spec(_tiny(output=output, cls_token=output == "classification")), None)
    tree = PIIP.cost(plan)
    model = PIIP.build(plan).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, *plan.input_shape))
    assert tuple(out.shape) == (1, *tree.out_shape)
    assert tree.total.params == sum(p.numel() for p in model.parameters())


def test_plan_keeps_ratios_at_another_size() -> None:
    spec = load_spec(SPECS / "piip/tsb_cls_368.yaml")
    assert [b.img_size for b in PIIP.plan(spec, (448, 448)).branches] == [
        (160, 160),
        (240, 240),
        (448, 448),
    ]
    assert [b.img_size for b in PIIP.plan(spec, None).branches] == [
        (128, 128),
        (192, 192),
        (368, 368),
    ]
    with pytest.raises(ResolutionError, match="multiples of the patch size 16"):
        PIIP.plan(spec, (450, 450))


def test_default_interactions_every_two_layers_for_vit_l() -> None:
    plan = PIIP.plan(load_spec(SPECS / "piip/sbl_cls_320.yaml"), None)
    assert plan.branches[0].segments[:3] == ((0, 2), (2, 4), (4, 6))
    assert plan.branches[1].segments[:3] == ((0, 1), (1, 2), (2, 3))


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {
                "branches": [
                    {"img_size": 40, "dim": 64, "depth": 2, "num_heads": 4},
                    {"img_size": 64, "dim": 32, "depth": 2, "num_heads": 2},
                ]
            },
            "branches[0].img_size",
            "img_size % patch_size == 0",
        ),
        (
            {
                "branches": [
                    {"img_size": 32, "dim": 72, "depth": 2, "num_heads": 4},
                    {"img_size": 64, "dim": 32, "depth": 2, "num_heads": 2},
                ]
            },
            "branches[0].dim",
            "divisible by deform_num_heads=16",
        ),
        (
            {
                "branches": [
                    {"img_size": 32, "dim": 64, "depth": 2, "num_heads": 4, "window_size": 7},
                    {"img_size": 64, "dim": 32, "depth": 2, "num_heads": 2},
                ]
            },
            "branches[0].window_size",
            "takes no class token",
        ),
        ({"img_size": 96}, "img_size", "branches[-1].img_size"),
        ({"interactions": 3}, "interactions", "interactions <= depth"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(tmp_path: Path, change, field, words) -> None:
    import yaml

    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(_tiny(**change)))
    with pytest.raises(SpecError) as e:
        load_spec(f)
    msg = e.value.one_line()
    assert f"{f}: {field}: " in msg
    assert words in msg
    assert "\n" not in str(e.value)


def test_non_inverted_order_is_allowed_but_warned(tmp_path: Path) -> None:
    import yaml

    spec = _tiny(
        branches=[
            {"img_size": 32, "dim": 32, "depth": 2, "num_heads": 2},
            {"img_size": 64, "dim": 64, "depth": 2, "num_heads": 4},
        ]
    )
    f = tmp_path / "flat.yaml"
    f.write_text(yaml.safe_dump(spec))
    plan = PIIP.plan(load_spec(f), None)
    assert len(plan.warnings) == 1 and "not parameter-inverted" in plan.warnings[0]
    res = CliRunner().invoke(app, ["profile", str(f), "--no-trace"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "not parameter-inverted" in ln]
    assert len(lines) == 1 and lines[0].startswith("hirisearch: warning: ")
    assert PIIP.plan(parse_spec(_tiny()), None).warnings == ()


@pytest.mark.slow
def test_forward_at_detection_resolution_on_cpu() -> None:
    """The real TSB detection backbone, 1120/896/448, batch 1, on the CPU."""
    plan = PIIP.plan(load_spec(SPECS / "piip/tsb_det_1120_896_448.yaml"), None)
    model = PIIP.build(plan).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 1120, 1120))
    assert tuple(out.shape) == (1, 768, 70, 70)
    assert torch.isfinite(out).all()


def test_four_branches_windows_and_placements_match_traced() -> None:
    """A 4-branch model with window + every-2nd-layer global attention, explicit interaction
    placements and the merged output: analytic cost == built == traced count, exactly, at every
    module path."""
    spec = parse_spec(
        _tiny(
            cls_token=False,
            output="merged",
            branches=[
                {"img_size": 32, "dim": 128, "depth": 4, "num_heads": 4},
                {"img_size": 48, "dim": 96, "depth": 2, "num_heads": 3},
                {
                    "img_size": 64,
                    "dim": 64,
                    "depth": 2,
                    "num_heads": 2,
                    "interaction_layers": [0, 1],
                },
                {
                    "img_size": 96,
                    "dim": 32,
                    "depth": 4,
                    "num_heads": 2,
                    "window_size": 4,
                    "global_every": 2,
                },
            ],
        )
    )
    plan = PIIP.plan(spec, None)
    assert plan.branches[3].windows == (4, 0, 4, 0)
    assert plan.branches[0].segments == ((0, 2), (2, 4), (4, 4))
    assert_parity(spec, None, tolerance=0)


def test_profile_shows_the_papers_convention_beside_ours(tmp_path, monkeypatch) -> None:
    """A PIIP profile in our convention also carries PIIP's published count (JSON and table)."""
    monkeypatch.chdir(tmp_path)  # the run folder goes there
    r = profile_target(resolve("piip/tsb_det_1120_896_448"), traced=False)
    assert abs(r.macs / 1e9 - 305.95) < 0.01  # ours: the real dense merge
    assert round(r.paper_conventions["piip"] / 1e9, 1) == 243.1
    assert r.to_json()["paper_conventions"] == {"piip": r.paper_conventions["piip"]}
    res = CliRunner().invoke(app, ["profile", "piip/tsb_det_1120_896_448", "--no-trace"])
    assert res.exit_code == 0, res.output
    assert "paper's convention (piip)" in res.output and "243.132" in res.output
    # in the paper's own convention, or for a family that merely offers it, no second figure
    assert not profile_target(
        resolve("piip/tsb_det_1120_896_448"), convention="piip"
    ).paper_conventions
    assert not profile_target(resolve("deit/s"), traced=False).paper_conventions


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"interaction_units": [{"a": 1, "b": 1}]}, "interaction_units[0]"),
        ({"interaction_units": [{"a": 0, "b": 1}, {"a": 0, "b": 1}]}, "interaction_units[1]"),
        ({"interaction_units": [{"a": 0, "b": 1, "update": "c"}]}, "interaction_units[0].update"),
        ({"interaction_attn": "sparse"}, "interaction_attn"),
    ],
)
def test_bad_interaction_settings_name_the_field(over, field) -> None:
    with pytest.raises(SpecError, match=re.escape(field)):
        parse_spec(_tiny(**over))


def test_cross_attention_needs_heads_to_divide_the_width_only() -> None:
    # deformable attention also needs int(dim * deform_ratio) divisible by the heads
    spec = _tiny(deform_num_heads=16, deform_ratio=0.25, interaction_attn="cross")
    assert parse_spec(spec).interaction_attn == "cross"
    with pytest.raises(SpecError, match="int\\(dim \\* deform_ratio\\)"):
        parse_spec({**spec, "interaction_attn": "deformable"})


def test_units_run_in_the_listed_order_and_cost_per_direction() -> None:
    both = PIIP.cost(PIIP.plan(parse_spec(_tiny()), None)).child("interactions").total
    one = _tiny(interaction_units=[{"a": 0, "b": 1, "update": "a"}])
    plan = PIIP.plan(parse_spec(one), None)
    assert plan.unit_order == (0,) and plan.units[0].update == "a"
    assert PIIP.cost(plan).child("interactions").total.macs < both.macs
    assert PIIP.plan(parse_spec(_tiny()), None).unit_order == (0,)  # one pair: last first


def test_piip_convention_rules_touch_only_the_papers_count() -> None:
    """fused_mlp, interaction layers ending early and a window over the whole grid change the
    repository's count (what its hooks see) and nothing of our model."""
    base = _tiny(cls_token=False, interactions=1)
    variants = {
        "fused_mlp": {
            **base,
            "branches": [{**base["branches"][0], "fused_mlp": True}, base["branches"][1]],
        },
        "early": {
            **base,
            "branches": [{**base["branches"][0], "interaction_layers": [0]}, base["branches"][1]],
        },
    }
    conv = PIIP.conventions[0].cost
    ref_plan = PIIP.plan(parse_spec(base), None)
    for name, spec in variants.items():
        plan = PIIP.plan(parse_spec(spec), None)
        assert PIIP.cost(plan).total == PIIP.cost(ref_plan).total, name
        assert conv(plan).total.macs < conv(ref_plan).total.macs, name
        assert conv(plan).total.params == conv(ref_plan).total.params, name
    # a 2x2 grid under a window of 4 counts as global attention: 2 N^2 D, not 2 N ws^2 D
    win = {**base, "branches": [{**base["branches"][0], "window_size": 4}, base["branches"][1]]}
    node = conv(PIIP.plan(parse_spec(win), None)).child("branches.0.blocks.0").total
    assert node.attn == 2 * 4 * 4 * 64


def test_vit_windows_refuse_a_class_token() -> None:
    with pytest.raises(SpecError, match="window attention takes no class token"):
        parse_spec(
            {"family": "vit", "name": "w", "embed_dim": 64, "depth": 2, "num_heads": 2,
             "window_size": 7}
        )  # fmt: skip
    plan = get_family("vit").plan(load_spec("vit/vitdet_b"), None)
    assert plan.windows == (14, 14, 0) * 4  # four evenly spaced global blocks
