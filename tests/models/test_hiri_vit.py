"""HIRI-ViT against the reference figures in docs/reference/hiri_vit.md (fvcore MACs, norms
included as fvcore counts them, at 448 input) and the published S target."""

from __future__ import annotations

import pytest

from hirisearch.errors import ResolutionError
from hirisearch.layers.transformer import transformer_block_cost
from hirisearch.models import get_family
from hirisearch.models.hiri_vit import StemPlan, conv_stem_cost, hr_block_cost, hr_stem_cost
from hirisearch.spec import load_spec
from tests.conftest import SPECS


def _fvcore_gflops(node) -> float:
    return (node.total.macs + node.total.norm) / 1e9


@pytest.mark.parametrize(
    ("name", "node", "gflops", "params_k"),
    [
        (
            "HR-stem 3->16->32",
            lambda: hr_stem_cost(StemPlan("hr", 3, 16, 32, 2, "bn", "ln", "gelu", (448, 448))),
            0.208,
            15,
        ),
        (
            "HR-stem 3->32->64",
            lambda: hr_stem_cost(StemPlan("hr", 3, 32, 64, 2, "bn", "ln", "gelu", (448, 448))),
            0.775,
            59,
        ),
        (
            "Wave-ViT conv stem 32->64",
            lambda: conv_stem_cost(StemPlan("conv", 3, 32, 64, 2, "bn", "ln", "relu", (448, 448))),
            1.406,
            42,
        ),
        (
            "HR-block C=32 r=4 at 112",
            lambda: hr_block_cost(32, mlp_ratio=4, hw=(112, 112)),
            0.138,
            13,
        ),
        (
            "HR-block C=64 r=4 at 56",
            lambda: hr_block_cost(64, mlp_ratio=4, hw=(56, 56)),
            0.124,
            47,
        ),
        (
            "Transformer C=128 sr=2 at 28",
            lambda: transformer_block_cost(128, 4, mlp_ratio=8, sr_ratio=2, hw=(28, 28)),
            0.298,
            410,
        ),
        (
            "Transformer C=128 sr=1 at 28",
            lambda: transformer_block_cost(128, 4, mlp_ratio=8, sr_ratio=1, hw=(28, 28)),
            0.422,
            340,
        ),
        (
            "Transformer C=320 at 14",
            lambda: transformer_block_cost(320, 10, mlp_ratio=4, hw=(14, 14)),
            0.268,
            1250,
        ),
        (
            "Transformer C=448 at 7",
            lambda: transformer_block_cost(448, 14, mlp_ratio=4, hw=(7, 7)),
            0.121,
            2430,
        ),
    ],
)
def test_reference_component_costs(name: str, node, gflops: float, params_k: float) -> None:
    n = node()
    assert _fvcore_gflops(n) == pytest.approx(gflops, abs=0.0015), name
    assert n.total.params / 1e3 == pytest.approx(params_k, rel=0.035), name


def test_s_is_five_gflops_at_448() -> None:
    spec = load_spec(SPECS / "s.yaml")
    fam = get_family("hiri_vit")
    total = fam.cost(fam.plan(spec, 448)).total
    assert total.macs / 1e9 == pytest.approx(5.0, rel=0.05)
    assert (total.macs + total.norm) / 1e9 == pytest.approx(5.0, rel=0.05)


def test_ladder_grows() -> None:
    fam = get_family("hiri_vit")
    costs = [fam.cost(fam.plan(load_spec(SPECS / f"{v}.yaml"), 448)).total for v in "sbl"]
    assert costs[0].macs < costs[1].macs < costs[2].macs
    assert costs[0].params < costs[1].params < costs[2].params


@pytest.mark.parametrize("size", [224, 384, 448, 512, 640, 1024])
def test_takes_the_usual_resolutions(size: int) -> None:
    fam = get_family("hiri_vit")
    plan = fam.plan(load_spec(SPECS / "s.yaml"), size)
    assert plan.stages[0].hw == (size // 4, size // 4)
    assert plan.stages[3].hw == (size // 32, size // 32)
    assert plan.stages[4].hw == ((size // 32 + 1) // 2,) * 2


def test_resolution_error_names_nearest() -> None:
    fam = get_family("hiri_vit")
    with pytest.raises(ResolutionError, match="nearest valid: 448 or 480"):
        fam.plan(load_spec(SPECS / "s.yaml"), 450)


def test_low_res_cffn_is_cheaper() -> None:
    full = hr_block_cost(32, mlp_ratio=4, hw=(112, 112)).total
    low = hr_block_cost(32, mlp_ratio=4, cffn="low_res", hw=(112, 112)).total
    assert 3 < full.macs / low.macs < 5


@pytest.mark.parametrize(
    "change",
    [
        {"stem_type": "conv"},
        {"stem_lr_convs": 3, "downsample": "irds_a", "downsample_ratio": 2},
        {"hr_cffn": "low_res", "head": "avg"},
        {"conv_norm": "ln", "token_norm": "bn", "act": "relu", "qkv_bias": False},
        {
            "block_types": ["hr", "hr", "hr", "transformer", "transformer"],
            "num_heads": [0, 0, 0, 10, 14],
            "sr_ratios": [1, 1, 1, 2, 1],
        },
        {
            "block_types": ["hr", "transformer", "transformer", "transformer", "transformer"],
            "num_heads": [0, 2, 4, 10, 14],
            "sr_ratios": [1, 4, 2, 1, 1],
            "num_classes": 0,
        },
    ],
    ids=["conv-stem", "irds-a", "low-res-cffn", "ln-bn-swap", "hr-in-3-stages", "hr-in-1-stage"],
)
def test_every_option_keeps_parity(change: dict) -> None:
    import yaml

    from hirisearch.spec import parse_spec
    from tests.models.test_parity import assert_parity

    data = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())
    data.update(change)
    assert_parity(parse_spec(data), 256)
