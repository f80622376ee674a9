"""Targets: one :class:`Target` per reference, sized by ``Target.at``, and the registry of kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from hirisearch.errors import HirisearchError, ResolutionError, UnknownModelError
from hirisearch.models import get_family
from hirisearch.spec import load_spec
from hirisearch.targets import KINDS, SizedTarget, TargetKind, resolve, resolve_all
from tests.conftest import SPECS

S = str(SPECS / "s.yaml")


def test_an_int_is_a_square_size() -> None:
    t = resolve(S)
    sized = t.at(448)
    assert isinstance(sized, SizedTarget) and sized.target is t
    assert sized.img_size == (448, 448) and sized.resolution == 448
    assert sized.input_shape == (3, 448, 448) == sized.plan.input_shape
    assert t.at((448, 448)) == sized  # a (height, width) pair of the same size is the same


def test_no_size_is_the_models_own() -> None:
    t = resolve(S)
    assert t.at().img_size == (load_spec(S).img_size,) * 2


def test_the_tree_is_the_familys_cost_of_the_plan() -> None:
    spec = load_spec(S)
    family = get_family(spec.family)
    plan = family.plan(spec, 448)
    sized = resolve(S).at(448)
    assert sized.plan == plan and sized.tree == family.cost(plan)
    assert sized.sections == plan.sections
    assert sized.out_grid == (7, 7)


def test_a_non_square_size_is_planned_as_height_by_width() -> None:
    sized = resolve(S).at((448, 640))
    assert sized.img_size == (448, 640) and sized.input_shape == (3, 448, 640)
    assert sized.plan.img_size == (448, 640) and sized.out_grid == (7, 10)


def test_a_refused_non_square_size_names_the_axis_in_one_line() -> None:
    with pytest.raises(ResolutionError) as e:
        resolve(S).at((448, 650))
    msg = e.value.one_line()
    assert msg == str(e.value)  # one line
    assert msg.startswith(f"{S}: img_size: HIRI-ViT takes input sizes that")
    assert "but got 448x650 (width 650); nearest valid: 448x640 or 448x672" in msg


def test_a_refused_size_names_the_spec_file() -> None:
    with pytest.raises(ResolutionError, match=rf"^{S}: img_size: .*450"):
        resolve(S).at(450)


@pytest.mark.parametrize("bad", [0, -4, (448,), (448, 448, 3), "448", (448.0, 448), True])
def test_sizes_that_are_not_sizes(bad) -> None:  # noqa: ANN001
    with pytest.raises(HirisearchError, match="img_size must be"):
        resolve(S).at(bad)


def test_build_reads_the_sized_plan() -> None:
    model = resolve(S).at(64).build(device="meta")
    assert next(model.parameters()).device.type == "meta"
    assert sum(p.numel() for p in model.parameters()) == resolve(S).at(64).tree.total.params


@pytest.fixture
def net(tmp_path: Path) -> str:
    f = tmp_path / "toy_net.py"
    f.write_text("def build(width=8):\n    raise RuntimeError('not built by these tests')\n")
    return f"{f}:build"


def test_external_targets_have_no_plan_and_no_tree(net: str) -> None:
    sized = resolve(net).at(96)
    assert sized.plan is None and sized.tree is None and sized.sections is None
    assert sized.img_size == (96, 96) and sized.input_shape == (3, 96, 96)
    assert resolve(net).at().img_size == (224, 224)


def test_an_input_shape_gives_a_code_target_its_size(net: str) -> None:
    t = resolve(net, input_shape=(3, 128, 256))
    assert t.at().img_size == (128, 256) and t.at().input_shape == (3, 128, 256)
    assert t.at().resolution == (128, 256)  # what documents hold as img_size ([128, 256])
    assert t.at((128, 256)).input_shape == (3, 128, 256)
    assert t.at(64).input_shape == (3, 64, 64)  # an int is a square
    assert t.at((64, 96)).input_shape == (3, 64, 96)


def test_options_apply_to_code_targets_only(net: str) -> None:
    with pytest.raises(HirisearchError, match="apply to code targets only"):
        resolve(S, kwargs={"width": 4})
    with pytest.raises(HirisearchError, match="--kwargs apply to factory"):
        resolve_all([S], kwargs={"width": 4})
    code, spec = resolve_all([net, S], kwargs={"width": 4})
    assert code.source.kwargs == {"width": 4} and spec.family == "hiri_vit"


# ----------------------------------------------------------------------------- the registry
def test_every_reference_has_one_kind(net: str) -> None:
    assert list(KINDS) == ["timm", "torchvision", "code", "spec", "module"]
    assert KINDS.kind_of("timm:resnet18").name == "timm"
    assert KINDS.kind_of("torchvision:resnet18").name == "torchvision"
    assert KINDS.kind_of(net).name == "code"
    assert KINDS.kind_of("my.module:build").name == "code"
    assert KINDS.kind_of(S).name == "spec"


def test_a_miss_lists_the_valid_kinds() -> None:
    with pytest.raises(UnknownModelError, match="valid: timm, torchvision, code, spec, module"):
        KINDS["hf"]


def test_duplicates_are_refused() -> None:
    with pytest.raises(ValueError, match="'timm' is already registered"):
        KINDS.register(TargetKind("timm", "tests.targets.toy_kind", "timm2:<n>", prefix="timm2"))
    with pytest.raises(ValueError, match="prefix 'timm'"):
        KINDS.register(TargetKind("timm2", "tests.targets.toy_kind", "timm:<n>", prefix="timm"))
    with pytest.raises(ValueError, match="built in"):
        KINDS.unregister("spec")


def test_a_new_kind_is_one_module_and_one_line() -> None:
    KINDS.register(TargetKind("toy", "tests.targets.toy_kind", "toy:<side>", prefix="toy"))
    try:
        t = resolve("toy:32")
        assert t.name == "toy" and t.family == "toy:Toy" and t.ref == "toy:32"
        assert t.at().img_size == (32, 32) and t.at(64).tree is None
        assert t.at(64).build(device="meta").weight.device.type == "meta"
        assert t.convention("ours") is None
    finally:
        KINDS.unregister("toy")
    assert "toy" not in KINDS
