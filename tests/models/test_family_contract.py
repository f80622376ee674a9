"""The family contract: every registered family's size rule agrees with its planner, timm-built
families get their geometry from the plan, and a new family plugs in from its own file alone."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

import hirisearch
from hirisearch.errors import ResolutionError
from hirisearch.models import FAMILIES, get_family
from hirisearch.models.resolution import as_hw
from hirisearch.spec import load_spec
from tests.conftest import SPECS, shipped_specs, spec_id


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_size_reason_agrees_with_plan(path: Path) -> None:
    spec = load_spec(path)
    fam = get_family(spec.family)
    sizes = [(s, s) for s in range(16, 520, 8)] + [(224, w) for w in range(16, 520, 24)]
    for hw in sizes:
        why = fam.size_reason(spec, hw)
        if why is None:
            assert as_hw(fam.plan(spec, hw).img_size) == hw
        else:
            with pytest.raises(ResolutionError):
                fam.plan(spec, hw)


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_each_family_is_tested_at_a_non_square_size(path: Path) -> None:
    spec = load_spec(path)
    fam = get_family(spec.family)
    if fam.size_reason(spec, (224, 320)) is not None and fam.size_reason(spec, (448, 640)):
        return  # takes square sizes only (or neither of these)
    assert any(as_hw(s)[0] != as_hw(s)[1] for s in fam.test_sizes(spec)), fam.name


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        ("swin/t.yaml", 224),
        ("swin/b.yaml", 384),
        ("swin/t.yaml", (224, 320)),
        ("swin/t.yaml", (224, 448)),
    ],
)
def test_swin_modules_have_the_planned_geometry(spec: str, size: int) -> None:
    target = hirisearch.as_target(SPECS / spec)
    plan = target.at(size).plan
    model = hirisearch.build(target, size, device="meta")
    assert len(model.layers) == len(plan.stages)
    for layer, s in zip(model.layers, plan.stages, strict=True):
        assert len(layer.blocks) == s.depth
        if s.merge_hw is not None:
            assert tuple(layer.input_resolution) == (s.merge_hw[0], s.merge_hw[1])
        for j, block in enumerate(layer.blocks):
            assert tuple(block.input_resolution) == s.hw
            assert tuple(block.window_size) == s.window
            assert tuple(block.shift_size) == (s.shift if j % 2 else (0, 0))
            assert block.attn.num_heads == s.num_heads


@pytest.mark.parametrize(
    ("spec", "size"), [("deit/s.yaml", 224), ("vit/l.yaml", 384), ("deit/s.yaml", (224, 320))]
)
def test_vit_modules_have_the_planned_geometry(spec: str, size: int) -> None:
    target = hirisearch.as_target(SPECS / spec)
    plan = target.at(size).plan
    model = hirisearch.build(target, size, device="meta")
    assert tuple(model.patch_embed.grid_size) == plan.hw
    assert model.pos_embed.shape[1] == plan.tokens
    assert len(model.blocks) == plan.depth
    assert model.blocks[0].attn.num_heads == plan.num_heads


TOY = '''
"""A toy family: one strided conv and a linear head, in one file."""
from __future__ import annotations
from dataclasses import dataclass
from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.models import register
from hirisearch.models.base import Family, SpecBase
from hirisearch.models.resolution import as_hw, axis_reason, check_resolution


class ToySpec(SpecBase):
    width: int = 8


@dataclass(frozen=True)
class ToyPlan:
    name: str
    family: str
    img_size: tuple
    width: int
    grid: tuple

    @property
    def input_shape(self):
        return (3, *self.img_size)

    @property
    def sections(self):
        return (("stem", "0"), ("head", "2"))


def size_reason(spec, hw):
    return axis_reason(hw, lambda s: None if s % 4 == 0 else "not a multiple of 4")


def plan_toy(spec, img_size=None):
    hw = as_hw(spec.img_size if img_size is None else img_size)
    check_resolution(lambda s: size_reason(spec, s), hw, model="Toy", step=4)
    return ToyPlan(spec.name, "toy", hw, spec.width, (hw[0] // 4, hw[1] // 4))


def build_toy(plan, *, device=None, dtype=None):
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, plan.width, 4, stride=4, device=device, dtype=dtype),
        nn.Flatten(),
        nn.Linear(plan.width * plan.grid[0] * plan.grid[1], 10, device=device, dtype=dtype),
    )


def cost_toy(plan):
    g = plan.grid
    stem = CostNode.leaf(P.conv2d(3, plan.width, 4, g, bias=True), (plan.width, *g))
    head = CostNode.leaf(P.linear(plan.width * g[0] * g[1], 10, 1), (10,))
    return CostNode.of([("0", stem), ("2", head)], out_shape=(10,))


FAMILY = register(
    Family(
        name="toy",
        title="Toy",
        spec_type=ToySpec,
        plan=plan_toy,
        build=build_toy,
        cost=cost_toy,
        size_reason=size_reason,
    )
)
'''


def test_a_new_family_needs_only_its_own_file(tmp_path: Path) -> None:
    module = tmp_path / "toy_family.py"
    module.write_text(textwrap.dedent(TOY))
    spec_file = tmp_path / "toy.yaml"
    spec_file.write_text("family: toy\nname: Toy-8\nimg_size: 32\nwidth: 8\n")
    loader = importlib.util.spec_from_file_location("toy_family", module)
    assert loader is not None and loader.loader is not None
    mod = importlib.util.module_from_spec(loader)
    sys.modules["toy_family"] = mod
    try:
        loader.loader.exec_module(mod)
        assert "toy" in FAMILIES
        r = hirisearch.profile(spec_file, img_size=64)
        # conv 3->8, k4 s4 on 64x64: 16x16 outputs; head 8*16*16 -> 10
        assert r.params == (3 * 16 * 8 + 8) + (8 * 256 * 10 + 10)
        assert r.macs == 3 * 16 * 8 * 256 + 8 * 256 * 10
        assert r.macs_traced == r.macs and r.agreement == 0.0
        with pytest.raises(hirisearch.SpecError, match="multiple of 4"):
            hirisearch.profile(spec_file, img_size=30, trace=False)
        with pytest.raises(hirisearch.SpecError, match="width 30: not a multiple of 4"):
            hirisearch.profile(spec_file, img_size=(32, 30), trace=False)
        with pytest.raises(ValueError, match="already registered"):
            mod.register(mod.FAMILY)
    finally:
        FAMILIES.unregister("toy")
        sys.modules.pop("toy_family", None)
    assert "toy" not in FAMILIES
