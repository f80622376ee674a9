"""The detection and segmentation layers' cost twins equal the built layers
(:func:`tests.harness.assert_twin`), on square and non-square maps: the FPN neck, ViTDet's simple
feature pyramid, the semantic FPN head, and the (Cascade) Mask R-CNN heads."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from hirisearch.layers.fpn import fpn_cost, fpn_out_hws, semantic_fpn_cost
from hirisearch.layers.fpn_nn import FPN, SemanticFPNHead
from hirisearch.layers.rcnn import RCNNLayout, box_head_cost, mask_head_cost, rcnn_cost, times
from hirisearch.layers.rcnn_nn import ConvFCBBoxHead, FCNMaskHead, RCNNHead
from hirisearch.layers.sfp import sfp_cost, sfp_out_hws
from hirisearch.layers.sfp_nn import SimpleFeaturePyramid
from tests.harness import OnPyramid, TwinCase


def level_hws(hw: tuple[int, int], n: int) -> tuple[tuple[int, int], ...]:
    return OnPyramid.grids(hw, n)


class Flat(nn.Module):
    """Runs a RoI head on a (B, C, S, S) input given as (1, B, C, S, S)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor):
        return self.inner(x[0])


SMALL = RCNNLayout(
    in_chs=16,
    num_classes=5,
    conv_chs=16,
    fc_chs=32,
    proposals=12,
    mask_proposals=4,
    roi_size=3,
    mask_roi_size=4,
)
CASCADE = RCNNLayout(
    in_chs=32,
    num_classes=5,
    conv_chs=32,
    fc_chs=32,
    proposals=12,
    mask_proposals=20,
    stages=3,
    box_convs=2,
    box_fcs=1,
    box_norm="bn",
    mask_norm="gn",
    rpn_convs=2,
    roi_size=3,
    mask_roi_size=4,
    class_agnostic_reg=True,
)


CHS = (8, 16, 24, 32)


def _cases() -> list[TwinCase]:
    cs = []
    for hw in ((32, 32), (30, 44)):
        for num_outs in (4, 5):
            cs.append(
                TwinCase(
                    f"fpn-{num_outs}-{hw[0]}x{hw[1]}",
                    lambda num_outs=num_outs, **dd: FPN(CHS, 16, num_outs=num_outs, **dd),
                    lambda num_outs=num_outs, hw=hw: fpn_cost(
                        CHS, 16, num_outs=num_outs, in_hws=level_hws(hw, 4)
                    ),
                    (sum(CHS), *hw),
                    partial(OnPyramid, chs=CHS),
                )
            )
        for norm in ("gn", "bn", None):
            cs.append(
                TwinCase(
                    f"semantic_fpn-{norm}-{hw[0]}x{hw[1]}",
                    lambda norm=norm, **dd: SemanticFPNHead(
                        (32,) * 4, 32, 7, strides=(4, 8, 16, 32), norm=norm, **dd
                    ),
                    lambda norm=norm, hw=hw: semantic_fpn_cost(
                        (32,) * 4, 32, 7, strides=(4, 8, 16, 32), norm=norm, in_hws=level_hws(hw, 4)
                    ),
                    (128, *hw),
                    partial(OnPyramid, chs=(32,) * 4),
                )
            )
        small = (hw[0] // 4, hw[1] // 4)
        for norm in ("ln", None):
            cs.append(
                TwinCase(
                    f"sfp-{norm}-{hw[0]}x{hw[1]}",
                    lambda norm=norm, **dd: SimpleFeaturePyramid(32, 16, norm=norm, **dd),
                    lambda norm=norm, small=small: sfp_cost(32, 16, norm=norm, hw=small),
                    (32, *small),
                    partial(OnPyramid, chs=(32,)),
                )
            )
        for name, lay in (("mask_rcnn", SMALL), ("cascade", CASCADE)):
            cs.append(
                TwinCase(
                    f"rcnn-{name}-{hw[0]}x{hw[1]}",
                    lambda lay=lay, hw=hw, **dd: RCNNHead(lay, img_hw=(4 * hw[0], 4 * hw[1]), **dd),
                    lambda lay=lay, hw=hw: rcnn_cost(lay, level_hws(hw, 5)),
                    (lay.in_chs * 5, *hw),
                    partial(OnPyramid, chs=(lay.in_chs,) * 5),
                )
            )
    for name, lay in (("mask_rcnn", SMALL), ("cascade", CASCADE)):
        cs.append(
            TwinCase(
                f"box_head-{name}",
                lambda lay=lay, **dd: ConvFCBBoxHead(lay, **dd),
                lambda lay=lay: times(box_head_cost(lay), 6),
                (6, lay.in_chs, 3, 3),
                Flat,
            )
        )
        cs.append(
            TwinCase(
                f"mask_head-{name}",
                lambda lay=lay, **dd: FCNMaskHead(lay, **dd),
                lambda lay=lay: times(mask_head_cost(lay), 6),
                (6, lay.in_chs, 4, 4),
                Flat,
            )
        )
    return cs


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_task_layer_twin(case: TwinCase) -> None:
    case.check()


def test_output_grids() -> None:
    """The grids the necks hand on: FPN's P6 is a ceil half of P5; ViTDet's levels are 4x, 2x,
    1x and a floor half of the stride-16 map, then P6."""
    assert fpn_out_hws(((200, 320), (100, 160), (50, 80), (25, 40)), 5)[-1] == (13, 20)
    assert sfp_out_hws((64, 63)) == ((256, 252), (128, 126), (64, 63), (32, 31), (16, 16))


def test_proposal_convention_scales_the_roi_heads() -> None:
    """Guard against a twin that cannot fail: the RoI heads' MACs are linear in the proposals."""
    lay = RCNNLayout()
    a = rcnn_cost(lay, ((8, 8),)).child("bbox_head").total
    b = rcnn_cost(RCNNLayout(proposals=500), ((8, 8),)).child("bbox_head").total
    per_roi = 256 * 49 * 1024 + 1024 * 1024 + 1024 * 81 + 1024 * 320
    assert a.linear == 2 * b.linear == 1000 * per_roi
    assert a.params == b.params
    mask = rcnn_cost(lay, ((8, 8),)).child("mask_head").total
    assert mask.conv == 100 * (4 * 256 * 256 * 9 * 196 + 256 * 256 * 4 * 196 + 256 * 80 * 784)
