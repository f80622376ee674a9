"""Non-square inputs: windows and padding on each axis, checked against the built model and its
traced count (the shipped specs' own non-square test sizes run in test_parity.py)."""

from __future__ import annotations

import pytest

from hirisearch.errors import ResolutionError
from hirisearch.models import get_family
from hirisearch.spec import load_spec
from tests.conftest import SPECS
from tests.harness import assert_parity


@pytest.mark.parametrize(
    ("path", "edits", "hw"),
    [
        # Swin as detectors run it: a fixed window 7 at 800x1333, padded on each axis
        ("swin/t.yaml", dict(window_rule="fixed", pad=True), (800, 1333)),
        # a stage axis narrower than the window: one window along it, no shift along it
        ("swin/t.yaml", dict(window_rule="fixed", pad=True), (224, 56)),
        ("deit/t.yaml", dict(pad=True), (200, 330)),  # the pos-embed grid is 13 x 21
        ("vit/vitdet_b.yaml", {}, (448, 672)),  # windows of 14 on a 28 x 42 grid
        ("hiri_vit/s.yaml", {}, (448, 640)),
    ],
)
def test_non_square_parity(path: str, edits: dict, hw: tuple[int, int]) -> None:
    spec = load_spec(SPECS / path).model_copy(update=edits)
    assert_parity(spec, hw)


def test_swin_windows_and_shifts_are_per_axis() -> None:
    swin = get_family("swin")
    spec = load_spec(SPECS / "swin/t.yaml").model_copy(update=dict(window_rule="fixed", pad=True))
    plan = swin.plan(spec, (224, 56))
    # stage grids 56x14, 28x7, 14x4 (padded merge), 7x2
    assert [s.hw for s in plan.stages] == [(56, 14), (28, 7), (14, 4), (7, 2)]
    assert [s.window for s in plan.stages] == [(7, 7), (7, 7), (7, 4), (7, 2)]
    assert [s.shift for s in plan.stages] == [(3, 3), (3, 0), (3, 0), (0, 0)]


def test_swin_window_follows_each_axis() -> None:
    swin = get_family("swin")
    spec = load_spec(SPECS / "swin/t.yaml")
    assert swin.plan(spec, (224, 320)).window_size == (7, 10)
    with pytest.raises(ResolutionError, match=r"width 7 \* 330 / 224 is not an integer"):
        swin.plan(spec, (224, 330))


def test_vit_position_embedding_follows_the_grid() -> None:
    vit = get_family("vit")
    plan = vit.plan(load_spec(SPECS / "deit/s.yaml"), (224, 320))
    assert plan.hw == (14, 20) and plan.tokens == 14 * 20 + 1
    with pytest.raises(ResolutionError, match="width 330: not a multiple of the patch size 16"):
        vit.plan(load_spec(SPECS / "deit/s.yaml"), (224, 330))
