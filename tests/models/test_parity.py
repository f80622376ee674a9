"""One source of truth, enforced: for every shipped spec at its test sizes, the analytic cost equals
the built model (params exactly, per module path) and the traced count (MACs per path within 0.1%)."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from hirisearch.cost.counters import count_traced
from hirisearch.models import get_family
from hirisearch.spec import load_spec
from tests.conftest import shipped_specs, spec_id, spec_marks

MAC_TOLERANCE = 1e-3
#: Above this many parameters the forward pass runs on the meta device (shapes only): InternViT-6B
#: models would need tens of GB of real weights.
REAL_FORWARD_MAX_PARAMS = 2_000_000_000


def _cases() -> list[tuple[object, int]]:
    cases = []
    for path in shipped_specs():
        spec = load_spec(path)
        for size in get_family(spec.family).test_sizes(spec):
            cases.append(
                pytest.param(path, size, id=f"{spec_id(path)}@{size}", marks=spec_marks(path))
            )
    return cases


def _close(a: int, b: int) -> bool:
    return a == b or abs(a - b) <= MAC_TOLERANCE * max(abs(a), abs(b))


@pytest.mark.parametrize(("path", "size"), _cases())
def test_analytic_matches_built_and_traced(path, size) -> None:
    spec = load_spec(path)
    assert_parity(spec, size)


def assert_parity(spec, size: int) -> None:
    """Analytic == built params and == traced MACs/norms/acts at every module path."""
    family = get_family(spec.family)
    plan = family.plan(spec, size)
    tree = family.cost(plan)
    traced = count_traced(
        partial(family.build, plan), plan.input_shape, with_acts=True, allow_eager=False
    )
    with torch.device("meta"):
        model = family.build(plan, device="meta")
    modules = dict(model.named_modules())
    assert tree.total.params == sum(p.numel() for p in model.parameters())
    for mpath, cost in tree.flatten().items():
        assert mpath in modules, f"analytic path {mpath!r} is not a module of the built model"
        t = traced.per_path.get(mpath)
        assert t is not None, f"no traced count at {mpath!r}"
        assert cost.params == t.params, (
            f"params at {mpath!r}: analytic {cost.params} != built {t.params}"
        )
        for field in ("conv", "linear", "attn", "other", "norm", "acts"):
            a, b = getattr(cost, field), getattr(t, field)
            assert _close(a, b), f"{field} at {mpath!r}: analytic {a} != traced {b}"
    for label, section in plan.sections:
        a, b = tree.child(section).total.macs, traced.per_path[section].macs
        assert _close(a, b), f"{label}: analytic {a} != traced {b}"


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=spec_id(p), marks=spec_marks(p)) for p in shipped_specs()]
)
def test_forward_output_shape(path) -> None:
    """A real forward pass at the family's smallest test size gives the planned output shape
    (on the meta device for models too large to hold)."""
    spec = load_spec(path)
    family = get_family(spec.family)
    plan = family.plan(spec, family.forward_size(spec))
    tree = family.cost(plan)
    device = "meta" if tree.total.params > REAL_FORWARD_MAX_PARAMS else "cpu"
    with torch.device(device):
        model = family.build(plan, device=device).eval()
        with torch.inference_mode():
            out = model(torch.randn(2, *plan.input_shape))
    assert tuple(out.shape) == (2, *tree.out_shape)
    if device == "cpu":
        assert torch.isfinite(out).all()
