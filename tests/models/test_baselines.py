"""Published numbers of the baselines (docs/reference/baselines.md, "Reference checks in the
tests"), from our specs (analytic cost; the parity tests tie it to the built model) and from the
matching timm models (meta-device traced count), plus the resolution rules of the new families."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hirisearch.cost.counters import count_traced
from hirisearch.errors import ResolutionError
from hirisearch.models import get_family
from hirisearch.spec import load_spec, parse_spec
from hirisearch.targets import resolve
from tests.conftest import SPECS
from tests.harness import assert_parity

# (spec, timm name or None, resolution, params in M, GFLOPs, relative tolerance)
REFERENCE = [
    ("swin/t.yaml", "swin_tiny_patch4_window7_224", 224, 28.29, 4.5, 0.01),
    ("swin/t.yaml", "swin_tiny_patch4_window7_224", 224, 28.29, 4.51, 0.01),  # fvcore's count
    ("swin/s.yaml", "swin_small_patch4_window7_224", 224, 49.61, 8.7, 0.01),
    ("swin/s.yaml", "swin_small_patch4_window7_224", 224, 49.61, 8.77, 0.01),  # fvcore's count
    ("swin/b.yaml", "swin_base_patch4_window7_224", 224, 87.77, 15.4, 0.01),
    ("swin/b.yaml", "swin_base_patch4_window12_384", 384, 87.90, 47.1, 0.01),
    ("deit/s.yaml", "deit_small_patch16_224", 224, 22.05, 4.61, 0.01),
    ("deit/b.yaml", "deit_base_patch16_224", 224, 86.57, 17.58, 0.01),
    ("resformer/s.yaml", None, 224, 21.99, 4.62, 0.01),
]


def _traced(target, size: int):  # noqa: ANN001, ANN202
    """The meta-device count of ``target`` at ``size`` (no eager fallback)."""
    sized = target.at(size)
    return count_traced(sized.build, sized.input_shape, allow_eager=False)


def _within(value: float, ref: float, tol: float) -> bool:
    return abs(value - ref) <= tol * ref


def _ids(row) -> str:
    return f"{row[0]}@{row[2]}={row[4]}"


@pytest.mark.parametrize("row", REFERENCE, ids=_ids)
def test_reference_from_spec(row) -> None:
    path, _, size, params_m, gflops, tol = row
    spec = load_spec(SPECS / path)
    family = get_family(spec.family)
    total = family.cost(family.plan(spec, size)).total
    assert _within(total.params / 1e6, params_m, tol), total.params
    assert _within(total.macs / 1e9, gflops, tol), total.macs


@pytest.mark.parametrize("row", [r for r in REFERENCE if r[1]], ids=lambda r: f"{r[1]}={r[4]}")
def test_reference_from_timm(row) -> None:
    _, name, size, params_m, gflops, tol = row
    target = resolve(f"timm:{name}")
    traced = _traced(target, size)
    assert _within(traced.total.params / 1e6, params_m, tol), traced.total.params
    assert _within(traced.total.macs / 1e9, gflops, tol), traced.total.macs


def test_timm_fused_attention_is_counted_and_img_size_is_honoured() -> None:
    """timm's DeiT uses fused SDPA: the meta count must equal our analytic count, which includes the
    attention matmuls (an eager CPU count would give 4.25 instead of 4.60 at 224)."""
    spec = load_spec(SPECS / "deit/s.yaml")
    family = get_family(spec.family)
    target = resolve("timm:deit_small_patch16_224")
    for size in (224, 384):
        analytic = family.cost(family.plan(spec, size)).total
        traced = _traced(target, size)
        assert traced.mode == "meta"
        assert traced.total.attn == analytic.attn > 0
        assert traced.total.macs == analytic.macs and traced.total.params == analytic.params


def _spec_file(tmp_path: Path, base: str, **changes) -> Path:
    data = yaml.safe_load((SPECS / base).read_text())
    data.update(changes)
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_swin_window_follows_the_resolution() -> None:
    spec = load_spec(SPECS / "swin/b.yaml")
    plan = get_family("swin").plan(spec, 384)
    assert [s.window for s in plan.stages] == [(12, 12)] * 4
    assert [s.hw[0] for s in plan.stages] == [96, 48, 24, 12]
    assert [s.shift for s in plan.stages] == [(6, 6)] * 3 + [(0, 0)]  # one window covers stage 4


def test_swin_window7_padded_at_384_matches_timm(tmp_path: Path) -> None:
    """The window-7 Swin-B at 384 pads its windows: 50.0 GFLOPs (the paper's 50.1) instead of 47.1."""
    path = _spec_file(tmp_path, "swin/b.yaml", window_rule="fixed", pad=True)
    spec = load_spec(path)
    family = get_family("swin")
    plan = family.plan(spec, 384)
    assert [s.padded_hw[0] for s in plan.stages] == [98, 49, 28, 14]
    total = family.cost(plan).total
    assert _within(total.macs / 1e9, 50.1, 0.01)
    target = resolve("timm:swin_base_patch4_window7_224")
    traced = _traced(target, 384)
    assert traced.total.macs == total.macs and traced.total.params == total.params


@pytest.mark.parametrize(
    ("base", "changes", "size"),
    [
        ("swin/t.yaml", {"window_rule": "fixed", "pad": True}, 250),
        ("deit/t.yaml", {"pad": True}, 232),
        ("resformer/t.yaml", {"pad": True}, 232),
    ],
    ids=["swin-pad-250", "deit-pad-232", "resformer-pad-232"],
)
def test_padded_models_keep_parity(tmp_path: Path, base: str, changes: dict, size: int) -> None:
    """Padding is counted as built: analytic == built == traced per module path."""
    assert_parity(load_spec(_spec_file(tmp_path, base, **changes)), size)


@pytest.mark.parametrize(
    ("base", "size", "words"),
    [
        ("swin/t.yaml", 250, "nearest valid: 256 or 224"),
        ("swin/t.yaml", 300, "nearest valid: 288 or 320"),
        ("deit/s.yaml", 230, "not a multiple of the patch size 16"),
        ("deit/s.yaml", 230, "nearest valid: 224 or 240"),
        ("resformer/s.yaml", 100, "nearest valid: 96 or 112"),
    ],
)
def test_resolution_refused_with_nearest_valid(base: str, size: int, words: str) -> None:
    spec = load_spec(SPECS / base)
    with pytest.raises(ResolutionError) as e:
        get_family(spec.family).plan(spec, size)
    assert e.value.field == "img_size"
    assert words in str(e.value), str(e.value)


def test_fixed_window_refuses_what_it_cannot_tile() -> None:
    data = yaml.safe_load((SPECS / "swin/t.yaml").read_text())
    spec = parse_spec({**data, "window_rule": "fixed"})
    with pytest.raises(ResolutionError, match="not a multiple of the window 7"):
        get_family("swin").plan(spec, 256)
    assert get_family("swin").plan(spec, 448).stages[0].window == (7, 7)


def test_timm_cnns_and_unknown_names() -> None:
    from hirisearch.errors import UnknownModelError

    for name, gflops in (("resnet50", 4.09), ("convnext_tiny", 4.46)):
        target = resolve(f"timm:{name}")
        traced = _traced(target, 224)
        assert _within(traced.total.macs / 1e9, gflops, 0.005)
        assert traced.total.attn == 0
    with pytest.raises(UnknownModelError, match="closest: swin_tiny_patch4_window7_224"):
        resolve("timm:swin_tiny_patch4_window7")
    with pytest.raises(ResolutionError, match="nearest valid: 224 or 240"):
        resolve("timm:vit_base_patch16_224").at(230)


def test_resformer_weights_run_at_any_resolution() -> None:
    """GLPE has no resolution-bound parameter: one state dict runs at 32 and 64 pixels, and the
    global and local position terms both change the output."""
    import torch

    spec = load_spec(SPECS / "resformer/t.yaml")
    family = get_family("resformer")
    small = family.build(family.plan(spec, 32)).eval()
    large = family.build(family.plan(spec, 64)).eval()
    large.load_state_dict(small.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        out = large(x)
        assert small(x[:, :, :32, :32]).shape == out.shape == (1, 1000)
        for module in (large.gpe.proj, large.blocks[0].attn.lpe):
            saved = module.weight.clone()
            module.weight.zero_()
            assert not torch.allclose(large(x), out)
            module.weight.copy_(saved)


def test_timm_model_that_feeds_a_parameter_view_to_a_block_is_counted() -> None:
    # CaiT passes its expanded class token (a view of a parameter) into the class-attention
    # blocks; torch's module tracker used to fail on it under inference mode. CaiT-XXS-24 is
    # published at 12.0M params and 2.5 GFLOPs (224).
    target = resolve("timm:cait_xxs24_224")
    traced = _traced(target, 224)
    assert traced.mode == "meta"
    assert traced.total.params == 11_956_264
    assert traced.total.macs / 1e9 == pytest.approx(2.5, rel=0.02)
