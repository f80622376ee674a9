"""HRViT against its published numbers, a real CPU forward pass, and bad input.

Published (Gu et al., CVPR 2022) at 224: b1 19.7M / 2.7 GFLOPs, b2 32.5M / 5.1, b3 37.9M / 5.7;
fvcore on the official b1 gives 19.69M params and 2.81 GFLOPs (fvcore adds BN/LN work to the MACs).
Exact published parameter counts (to 10k): 19.69M, 32.49M, 37.87M.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from hirisearch.errors import ResolutionError, SpecError
from hirisearch.models import get_family
from hirisearch.spec import load_spec
from tests.conftest import SPECS

FAMILY = get_family("hrvit")
#: variant -> (published params, published GMACs at 224)
PUBLISHED = {"b1": (19.69e6, 2.7), "b2": (32.49e6, 5.1), "b3": (37.87e6, 5.7)}
FVCORE_B1_GFLOPS = 2.81
PARAMS_TOL = 1e-3
GFLOPS_TOL = 0.05


def _plan(variant: str, size: int = 224):
    return FAMILY.plan(load_spec(SPECS / "hrvit" / f"{variant}.yaml"), size)


@pytest.mark.parametrize("variant", sorted(PUBLISHED))
def test_params_match_published(variant: str) -> None:
    plan = _plan(variant)
    params = FAMILY.cost(plan).total.params
    with torch.device("meta"):
        model = FAMILY.build(plan, device="meta")
    assert params == sum(p.numel() for p in model.parameters())
    published = PUBLISHED[variant][0]
    assert abs(params - published) <= PARAMS_TOL * published, (variant, params)


@pytest.mark.parametrize("variant", sorted(PUBLISHED))
def test_gflops_match_published(variant: str) -> None:
    gmacs = FAMILY.cost(_plan(variant)).total.macs / 1e9
    published = PUBLISHED[variant][1]
    assert abs(gmacs - published) <= GFLOPS_TOL * published, (variant, gmacs)


def test_b1_gflops_match_fvcore_on_the_official_model() -> None:
    """fvcore counts BN/LN work too: MACs + norms reproduce its 2.81 to the reported digits."""
    total = FAMILY.cost(_plan("b1")).total
    assert abs(total.macs / 1e9 - FVCORE_B1_GFLOPS) <= GFLOPS_TOL * FVCORE_B1_GFLOPS
    assert round((total.macs + total.norm) / 1e9, 2) == FVCORE_B1_GFLOPS


def test_cost_grows_with_resolution_as_windows_dictate() -> None:
    """Stripe attention grows faster than linear in the token count: more than 4x from 224 to 448."""
    small, big = (FAMILY.cost(_plan("b1", s)).total for s in (224, 448))
    assert 4 * small.conv == big.conv  # convolutions scale with the pixel count
    assert big.attn > 4 * small.attn


def test_forward_on_cpu_at_224() -> None:
    plan = _plan("b1")
    model = FAMILY.build(plan).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 1000)
    assert torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])  # the two images are told apart


@pytest.mark.parametrize(
    ("size", "near"), [(200, "192 or 224"), (16, "32"), (250, "256 or 224"), (33, "32 or 64")]
)
def test_unsupported_resolution_names_the_nearest_valid(size: int, near: str) -> None:
    with pytest.raises(ResolutionError) as exc:
        _plan("b1", size)
    assert exc.value.field == "img_size"
    assert f"nearest valid: {near}" in str(exc.value)
    assert "\n" not in str(exc.value)


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda d: d.update(window_sizes=[1, 2, 7]), "window_sizes", "len(window_sizes)"),
        (lambda d: d.update(window_sizes=[1, 0, 7, 7]), "window_sizes[1]", ">= 1"),
        (lambda d: d.update(head_channels=[32, 64]), "head_channels", "one per branch"),
        (lambda d: d["depths"].__setitem__(0, [1, 1, 1]), "depths[0]", "1 or 2 entries"),
        (lambda d: d["depths"].__setitem__(2, [1, 1, 6, 2]), "depths[2]", "2 or 3 entries"),
        (lambda d: d["depths"].__setitem__(3, [1, 0, 6]), "depths[3][1]", ">= 1"),
        (lambda d: d.update(depths=[[1], [1, 1], [1, 1, 6]]), "depths", "len(depths[-1])"),
        (lambda d: d.update(channels=[32, 64, 96, 256]), "channels[2]", "2 * head_dim"),
        (
            lambda d: d.update(channels=[36, 72, 144, 288], head_dim=18),
            "channels[0]",
            "k x 8",
        ),
        (lambda d: d.update(mlp_ratios=[4, 4, 0.01, 4]), "mlp_ratios[2]", ">= 2"),
        (lambda d: d.update(head_dim=0), "head_dim", "greater than or equal to 1"),
        (lambda d: d.update(img_size=0), "img_size", "greater than or equal to 1"),
        (lambda d: d.update(windows=[7]), "windows", "unknown key"),
    ],
)
def test_invalid_spec_names_file_and_field(tmp_path: Path, edit, field: str, words: str) -> None:
    data = yaml.safe_load((SPECS / "hrvit" / "b1.yaml").read_text())
    edit(data)
    p = _write(tmp_path, data)
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: {field}: "), msg
    assert words in msg, msg
    assert "\n" not in msg
