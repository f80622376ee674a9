"""The ``nn.Module`` halves of the detection and semantic-FPN parts (``fpn``, ``sfp``,
``mask_rcnn``, ``semantic_fpn``; imported only when a model is built)."""

from __future__ import annotations

from hirisearch.layers.fpn_nn import FPN, SemanticFPNHead
from hirisearch.layers.rcnn_nn import RCNNHead
from hirisearch.layers.sfp_nn import SimpleFeaturePyramid
from hirisearch.tasks.fpn import FPNPlan
from hirisearch.tasks.mask_rcnn import MaskRCNNPlan
from hirisearch.tasks.semantic_fpn import SemanticFPNPlan
from hirisearch.tasks.sfp import SFPPlan


def build_fpn(plan: FPNPlan, *, device=None, dtype=None) -> FPN:
    """The FPN neck of ``plan``."""
    return FPN(plan.in_chs, plan.out_chs, num_outs=plan.num_outs, device=device, dtype=dtype)


def build_sfp(plan: SFPPlan, *, device=None, dtype=None) -> SimpleFeaturePyramid:
    """ViTDet's simple feature pyramid of ``plan``."""
    return SimpleFeaturePyramid(
        plan.in_chs,
        plan.out_chs,
        stride=plan.stride,
        scales=plan.scales,
        norm=plan.norm,
        top_block=plan.top_block,
        device=device,
        dtype=dtype,
    )


def build_mask_rcnn(plan: MaskRCNNPlan, *, device=None, dtype=None) -> RCNNHead:
    """The (Cascade) Mask R-CNN heads of ``plan``."""
    return RCNNHead(plan.layout, img_hw=plan.img_hw, device=device, dtype=dtype)


def build_semantic_fpn(plan: SemanticFPNPlan, *, device=None, dtype=None) -> SemanticFPNHead:
    """The semantic FPN head of ``plan``."""
    return SemanticFPNHead(
        plan.in_chs,
        plan.channels,
        plan.num_classes,
        strides=plan.strides,
        norm=plan.norm,
        device=device,
        dtype=dtype,
    )
