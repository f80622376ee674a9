"""Mask R-CNN and Cascade Mask R-CNN as a task head (``mask_rcnn``): :mod:`hirisearch.layers.rcnn`
(RPN on every level, then ``stages`` box and mask heads) on a neck's pyramid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from hirisearch.cost.types import CostNode
from hirisearch.errors import SpecError
from hirisearch.layers.rcnn import RCNNLayout, rcnn_cost, rcnn_train
from hirisearch.lazy import LazyCallable
from hirisearch.tasks.parts import Part, PartConfig
from hirisearch.tasks.pyramid import Hw, Pyramid
from hirisearch.train.tape import Sym, Tape

Norm = Literal["bn", "gn", "ln"] | None


class MaskRCNNConfig(PartConfig):
    """The heads' settings, as mmdetection 2.x names them. Defaults: Mask R-CNN's
    (``Shared2FCBBoxHead``, ``FCNMaskHead``, COCO's 80 classes); ``stages: 3`` with
    ``box_convs: 4, box_fcs: 1, box_norm: bn`` is Swin's Cascade Mask R-CNN (4conv1fc)."""

    num_classes: int = Field(80, ge=1)
    num_anchors: int = Field(3, ge=1)
    rpn_convs: int = Field(1, ge=1)
    stages: int = Field(1, ge=1)
    box_convs: int = Field(0, ge=0)
    box_fcs: int = Field(2, ge=1)
    box_norm: Norm = None
    conv_channels: int = Field(256, ge=1)
    fc_channels: int = Field(1024, ge=1)
    class_agnostic_reg: bool = False
    mask: bool = True
    mask_convs: int = Field(4, ge=0)
    mask_norm: Norm = None
    #: The proposal convention (mmdetection 2.x's ``forward_dummy``): RoIs per image through
    #: each box head, and how many of them go through each mask head.
    proposals: int = Field(1000, ge=1)
    mask_proposals: int = Field(100, ge=1)


@dataclass(frozen=True)
class MaskRCNNPlan:
    layout: RCNNLayout
    level_hws: tuple[Hw, ...]
    img_hw: Hw


def plan_mask_rcnn(config: MaskRCNNConfig, pyramid: Pyramid, img_hw: Hw) -> MaskRCNNPlan:
    """The heads on every level of ``pyramid`` (a neck's: one channel count)."""
    chs = {lv.channels for lv in pyramid}
    if len(chs) != 1:
        raise SpecError(
            "every level must have the same channels (put an FPN neck before the head), but "
            f"got {[lv.channels for lv in pyramid]}",
            field="head",
        )
    layout = RCNNLayout(
        in_chs=pyramid[0].channels,
        num_classes=config.num_classes,
        num_anchors=config.num_anchors,
        rpn_convs=config.rpn_convs,
        stages=config.stages,
        box_convs=config.box_convs,
        box_fcs=config.box_fcs,
        box_norm=config.box_norm,
        conv_chs=config.conv_channels,
        fc_chs=config.fc_channels,
        class_agnostic_reg=config.class_agnostic_reg,
        mask=config.mask,
        mask_convs=config.mask_convs,
        mask_norm=config.mask_norm,
        proposals=config.proposals,
        mask_proposals=config.mask_proposals,
        roi_stride=pyramid[0].stride,
    )
    return MaskRCNNPlan(layout, tuple(lv.hw for lv in pyramid), img_hw)


def cost_mask_rcnn(plan: MaskRCNNPlan) -> CostNode:
    return rcnn_cost(plan.layout, plan.level_hws)


def conventions(plan: MaskRCNNPlan) -> tuple[str, ...]:
    lay = plan.layout
    kind = "Mask R-CNN" if lay.stages == 1 else f"Cascade Mask R-CNN ({lay.stages} stages)"
    masks = min(lay.mask_proposals, lay.proposals)
    mask = f", the first {masks} through each mask head" if lay.mask else ""
    return (
        f"{kind}: RoI heads at mmdetection 2.x's dummy forward (its get_flops): "
        f"{lay.proposals} proposals per image through each box head{mask}",
        "RoIAlign pools every RoI from the finest level and counts no MACs (bilinear sampling; "
        "mmcv's counter ignored it too); no NMS or box decoding",
    )


def train_mask_rcnn(plan: MaskRCNNPlan, t: Tape, feats: list[Sym]) -> list[Sym]:
    return rcnn_train(t, feats, plan.layout, plan.level_hws)


PART = Part(
    name="mask_rcnn",
    kind="head",
    title="Mask R-CNN heads: RPN, box head, mask head (stages > 1: Cascade Mask R-CNN)",
    config=MaskRCNNConfig,
    plan=plan_mask_rcnn,
    cost=cost_mask_rcnn,
    build=LazyCallable("hirisearch.tasks.det_nn", "build_mask_rcnn"),
    conventions=conventions,
    train=train_mask_rcnn,
)
