"""Per-block axes: ``mlp_ratios.3[*]`` is one axis per block of stage 3, an index into a
stage's entry (``num_heads.4.1``) makes that entry per block, on every family that takes
per-block values; what cannot be per block is refused in words; the exact front of a per-block
space is the enumerated one."""

from __future__ import annotations

from typing import Any

import pytest

from hirisearch.errors import SpecError
from hirisearch.ops.search.space import parse_space
from tests.search.conftest import ROOT
from tests.search.test_sections import _same

FILE = str(ROOT / "specs" / "search" / "x.yaml")


def _space(base: str, axes: dict[str, Any], **more: Any) -> Any:
    return parse_space({"base": base, "axes": axes, "strategy": "exact", **more}, file=FILE)


def test_every_block_expands_and_the_base_becomes_per_block() -> None:
    s = _space("../hiri_vit/s.yaml", {"mlp_ratios.3[*]": [3, 4], "num_heads.4.1": [7, 14]})
    assert [a.path for a in s.axes] == [*(f"mlp_ratios.3.{j}" for j in range(6)), "num_heads.4.1"]
    assert s.size == 2**6 * 2
    assert s.base["mlp_ratios"][3] == [4] * 6 and s.base["num_heads"][4] == [14] * 3


@pytest.mark.parametrize(
    ("base", "axes", "paths", "field", "value"),
    [
        ("../swin/t.yaml", {"mlp_ratio.2[*]": [3.0, 4.0]}, 6, "mlp_ratio", [4.0, 4.0,
         [4.0] * 6, 4.0]),
        ("../swin/t.yaml", {"num_heads.1[*]": [3, 6]}, 2, "num_heads", [3, [6, 6], 12, 24]),
        ("../deit/s.yaml", {"mlp_ratio[*]": [2.0, 4.0]}, 12, "mlp_ratio", [4.0] * 12),
    ],
)  # fmt: skip
def test_swin_and_vit_take_per_block_axes(
    base: str, axes: dict[str, Any], paths: int, field: str, value: Any
) -> None:
    s = _space(base, axes)
    assert len(s.axes) == paths and s.base[field] == value


@pytest.mark.parametrize(
    ("axes", "words"),
    [
        ({"depths.3": [2, 4], "mlp_ratios.3[*]": [3, 4]}, "`depths.3` cannot be an axis too"),
        ({"dims.3[*]": [256, 320]}, "dims.3 takes no per-block values in the hiri_vit family"),
        ({"mlp_ratios.9[*]": [3, 4]}, "mlp_ratios.9 takes no per-block values"),
        ({"num_heads.3[*]": [10, 7]}, "value 7 is rejected"),
    ],
)
def test_what_cannot_be_per_block_is_refused_in_words(axes: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError) as info:
        _space("../hiri_vit/s.yaml", axes)
    assert words in str(info.value) and "axes." in str(info.value)


def test_a_per_block_space_has_the_enumerated_front() -> None:
    space = _space(
        "../hiri_vit/s.yaml",
        {"mlp_ratios.2[*]": [4, 8], "dims.3": [256, 320], "mlp_ratios.4[*]": [2, 4]},
        img_size=224,
        budgets={"gmacs": {"max": 1.0}},
        objectives=[{"maximize": "params"}, {"minimize": "latency_ms"}],
    )
    _same(space=space)
