"""``--convention fvcore`` against fvcore itself: one shipped spec per family (the smallest) and
five timm models, at small inputs.

fvcore misses fused ``F.scaled_dot_product_attention`` (our convention counts it); the reference
count registers a handle for it that counts its two matmuls as fvcore's ``matmul`` handle counts
the unfused ones, so that everything else is compared as fvcore counts it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
import torch

from hirisearch.models import get_family
from hirisearch.ops.profile import profile_target
from hirisearch.spec import load_spec
from hirisearch.targets import resolve
from tests.conftest import shipped_specs, spec_id

fvcore_nn = pytest.importorskip("fvcore.nn")

TIMM = [
    "resnet50",
    "convnext_tiny",
    "mobilenetv3_large_100",
    "swin_tiny_patch4_window7_224",
    "vit_small_patch16_224",
]


def _smallest_spec_per_family() -> list[Path]:
    best: dict[str, tuple[int, Path]] = {}
    for p in shipped_specs():
        spec = load_spec(p)
        family = get_family(spec.family)
        params = family.cost(family.plan(spec, None)).total.params
        if spec.family not in best or params < best[spec.family][0]:
            best[spec.family] = (params, p)
    return [p for _, p in sorted(best.values(), key=lambda v: str(v[1]))]


def _sdpa(inputs, outputs) -> int:  # noqa: ANN001
    from fvcore.nn.jit_handles import get_shape

    q, k, v = (get_shape(i) for i in inputs[:3])
    return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


def _fvcore(model: torch.nn.Module, shape: tuple[int, ...]) -> fvcore_nn.FlopCountAnalysis:
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    a = fvcore_nn.FlopCountAnalysis(model.eval(), torch.randn(1, *shape))
    a.set_op_handle("aten::scaled_dot_product_attention", _sdpa)
    a.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return a


def _unused_by_output(per_path: dict[str, int], fvcore_by_module: dict[str, int]) -> int:
    """Work in the outermost modules fvcore counts as 0 though they ran: fvcore's JIT trace drops
    computations whose results the output does not use (PIIP's classification variants run a
    last interaction unit their head ignores)."""
    dropped = [p for p, v in per_path.items() if p and v and not fvcore_by_module.get(p, 0)]
    outer = [p for p in dropped if not any(p.startswith(q + ".") for q in dropped)]
    return sum(per_path[p] for p in outer)


@pytest.mark.parametrize("path", _smallest_spec_per_family(), ids=spec_id)
def test_shipped_specs_match_fvcore(path: Path) -> None:
    target = resolve(str(path))
    spec = target.source.spec
    size = get_family(spec.family).forward_size(spec)
    r = profile_target(target, size, convention="fvcore", depth=99)
    sized = target.at(size)
    a = _fvcore(sized.build(device="cpu"), sized.input_shape)
    ours = {s.path: s.macs_traced or 0 for s in r.rows}
    unused = _unused_by_output(ours, dict(a.by_module()))
    assert r.macs - unused == a.total()
    assert (unused > 0) == (spec.family == "piip" and "cls" in path.name)


@pytest.mark.parametrize("name", TIMM)
def test_timm_models_match_fvcore(name: str) -> None:
    target = resolve(f"timm:{name}")
    size = 64
    r = profile_target(target, size, convention="fvcore")
    sized = target.at(size)
    a = _fvcore(sized.build(device="cpu"), sized.input_shape)
    assert r.macs == a.total()
    assert r.macs > r.categories_traced["conv"] + r.categories_traced["linear"]  # norms added
    assert r.convention.startswith("GFLOPs as fvcore counts them")


def test_fvcore_adds_norms_and_upsampling_to_ours() -> None:
    target = resolve("torchvision:deeplabv3_mobilenet_v3_large")
    ours = profile_target(target, 64)
    fv = profile_target(target, 64, convention="fvcore")
    resample = fv.categories_traced["resample"]
    assert resample > 0 and fv.macs == ours.macs + ours.norm + resample
