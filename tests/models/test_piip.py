"""PIIP: published numbers through the repository's counting path, interactions, bad input, and a
real forward pass at detection resolution."""

from __future__ import annotations

import json
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
    assert [b.img_size for b in PIIP.plan(spec, 448).branches] == [160, 240, 448]
    assert [b.img_size for b in PIIP.plan(spec, None).branches] == [128, 192, 368]
    with pytest.raises(ResolutionError, match="multiples of the patch size 16"):
        PIIP.plan(spec, 450)


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
    placements and the merged output: analytic cost == traced count per module path."""
    from functools import partial

    from hirisearch.cost.counters import count_traced

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
    tree = PIIP.cost(plan)
    traced = count_traced(partial(PIIP.build, plan), plan.input_shape, allow_eager=False)
    assert tree.total.params == traced.total.params
    for path, cost in tree.flatten().items():
        t = traced.per_path[path]
        assert (cost.params, cost.macs, cost.attn) == (t.params, t.macs, t.attn), path


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
