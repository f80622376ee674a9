"""The task heads' cost twins equal the built layers (:func:`tests.harness.assert_twin` on a
pyramid cut from one input by :class:`tests.harness.OnPyramid`), on square and non-square maps."""

from __future__ import annotations

from functools import partial

import pytest

from hirisearch.layers.segformer_head import segformer_head_cost
from hirisearch.layers.segformer_head_nn import SegformerHead
from hirisearch.layers.upernet import fcn_head_cost, upernet_cost
from hirisearch.layers.upernet_nn import FCNHead, UPerHead
from tests.harness import OnPyramid, TwinCase

CHS = (8, 16, 24, 32)


def _cases() -> list[TwinCase]:
    cs = []
    for hw in ((32, 32), (20, 36)):
        hws = OnPyramid.grids(hw, len(CHS))
        shape = (sum(CHS), *hw)
        wrap = partial(OnPyramid, chs=CHS)
        cs.append(
            TwinCase(
                f"upernet-{hw[0]}x{hw[1]}",
                lambda **dd: UPerHead(CHS, channels=12, pool_scales=(1, 2, 3), num_classes=5, **dd),
                lambda hws=hws: upernet_cost(
                    CHS, hws, channels=12, pool_scales=(1, 2, 3), num_classes=5
                ),
                shape,
                wrap,
            )
        )
        for norm in (False, True):
            cs.append(
                TwinCase(
                    f"segformer_head-norm{norm}-{hw[0]}x{hw[1]}",
                    lambda norm=norm, **dd: SegformerHead(
                        CHS, channels=12, num_classes=5, mlp_norm=norm, mlp_act=norm, **dd
                    ),
                    lambda hws=hws, norm=norm: segformer_head_cost(
                        CHS, hws, channels=12, num_classes=5, mlp_norm=norm, mlp_act=norm
                    ),
                    shape,
                    wrap,
                )
            )
        cs.append(
            TwinCase(
                f"fcn_head-{hw[0]}x{hw[1]}",
                lambda **dd: FCNHead(24, channels=10, num_convs=2, num_classes=5, **dd),
                lambda hw=hw: fcn_head_cost(24, hw, channels=10, num_convs=2, num_classes=5),
                (24, *hw),
            )
        )
    return cs


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_twin_matches_layer(case: TwinCase) -> None:
    case.check()


def test_upernet_twin_changes_with_its_settings() -> None:
    hws = OnPyramid.grids((32, 32), 4)
    a = upernet_cost(CHS, hws, channels=12, pool_scales=(1, 2, 3), num_classes=5).total
    b = upernet_cost(CHS, hws, channels=12, pool_scales=(1, 2), num_classes=5).total
    assert a.params - b.params == 32 * 12 + 2 * 12 + 12 * 12 * 9  # one PPM branch, wider bottleneck
