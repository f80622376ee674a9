"""Mask R-CNN and Cascade Mask R-CNN heads: cost twins of :mod:`hirisearch.layers.rcnn_nn`.

He et al., "Mask R-CNN" (2017) and Cai & Vasconcelos, "Cascade R-CNN" (2018), as mmdetection 2.x
builds them on an FPN: an RPN head shared by every level (3x3 conv + ReLU, 1x1 convs to one
objectness score and four box deltas per anchor), then per stage a box head on 7x7 RoI features
(``ConvFCBBoxHead``: ``box_convs`` 3x3 convs, ``box_fcs`` linears, a classifier over classes +
background and a box regressor, per class unless ``class_agnostic_reg``) and a mask head on 14x14
RoI features (``FCNMaskHead``: ``mask_convs`` 3x3 convs, a 2x2 stride-2 transposed conv, a 1x1
conv to one mask per class). A conv has a bias exactly when it has no norm (mmcv's ConvModule).

The RoI heads' cost depends on the number of proposals, which a detector decides from its input.
The convention here is mmdetection 2.x's ``forward_dummy``, which its ``get_flops`` tool (and so
the published figures) counts: ``proposals`` (1000) fixed boxes per image through every box head
and the first ``mask_proposals`` (100) through every mask head. The boxes are small, so, as the
dummy forward's random ones, they pool from the finest level (RoIAlign, torchvision's, aligned,
adaptive sampling). RoIAlign's bilinear sampling is no multiply-accumulate of a weight: it counts
no MACs here (mmcv's counter ignored it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.norm_act import MapNormKind, norm_train
from hirisearch.train.tape import Sym, Tape

HW = tuple[int, int]


@dataclass(frozen=True)
class RCNNLayout:
    """Every setting of the R-CNN heads (one stage: Mask R-CNN; three: Cascade Mask R-CNN)."""

    in_chs: int = 256
    num_classes: int = 80
    num_anchors: int = 3
    rpn_convs: int = 1
    stages: int = 1
    box_convs: int = 0
    box_fcs: int = 2
    box_norm: MapNormKind | None = None
    conv_chs: int = 256
    fc_chs: int = 1024
    class_agnostic_reg: bool = False
    roi_size: int = 7
    mask: bool = True
    mask_convs: int = 4
    mask_norm: MapNormKind | None = None
    mask_roi_size: int = 14
    proposals: int = 1000
    mask_proposals: int = 100
    #: Stride of the level the RoIs pool from (the finest).
    roi_stride: int = 4

    @property
    def reg_out(self) -> int:
        return 4 if self.class_agnostic_reg else 4 * self.num_classes


def times(node: CostNode, n: int) -> CostNode:
    """``node`` run on ``n`` RoIs: per-sample counts ``n`` times, parameters once."""
    return CostNode(
        node.total.scaled(n),
        tuple((name, times(child, n)) for name, child in node.children),
        (n, *node.out_shape),
    )


@lru_cache(maxsize=256)
def rpn_cost(layout: RCNNLayout, level_hws: tuple[HW, ...]) -> CostNode:
    """The RPN head shared by every level of grids ``level_hws`` (its counts summed over them)."""
    a, c = layout.num_anchors, layout.in_chs
    parts: dict[str, list[CostNode]] = {"rpn_conv": [], "rpn_cls": [], "rpn_reg": []}
    for hw in level_hws:
        convs = [
            (str(i), conv_norm_act_cost(c, c, 3, bias=True, norm=None, act="relu", hw=hw))
            for i in range(layout.rpn_convs)
        ]
        parts["rpn_conv"].append(CostNode.of(convs))
        parts["rpn_cls"].append(conv_norm_act_cost(c, a, 1, bias=True, norm=None, hw=hw))
        parts["rpn_reg"].append(conv_norm_act_cost(c, 4 * a, 1, bias=True, norm=None, hw=hw))
    return CostNode.of([(name, _calls(nodes)) for name, nodes in parts.items()])


def _calls(nodes: list[CostNode]) -> CostNode:
    """One module called once per node: the calls' counts summed, parameters once."""
    first = nodes[0]
    total = Cost(params=first.total.params)
    for n in nodes:
        total = total + Cost(0, *_work(n.total))
    children = tuple(
        (name, _calls([n.children[i][1] for n in nodes]))
        for i, (name, _) in enumerate(first.children)
    )
    return CostNode(total, children, first.out_shape)


def _work(c: Cost) -> tuple[int, ...]:
    return (c.conv, c.linear, c.attn, c.other, c.norm, c.acts)


@lru_cache(maxsize=256)
def box_head_cost(layout: RCNNLayout) -> CostNode:
    """One stage's box head on one RoI (``ConvFCBBoxHead``)."""
    s, ch, norm = layout.roi_size, layout.in_chs, layout.box_norm
    convs = []
    for i in range(layout.box_convs):
        convs.append(
            (
                str(i),
                conv_norm_act_cost(
                    ch, layout.conv_chs, 3, bias=norm is None, norm=norm, act="relu", hw=(s, s)
                ),
            )
        )
        ch = layout.conv_chs
    children = [("shared_convs", CostNode.of(convs))] if convs else []
    fcs, f = [], ch * s * s
    for i in range(layout.box_fcs):
        fcs.append((str(i), CostNode.leaf(P.linear(f, layout.fc_chs, 1), (layout.fc_chs,))))
        f = layout.fc_chs
    children.append(("shared_fcs", CostNode.of(fcs)))
    k = layout.num_classes + 1
    children.append(("fc_cls", CostNode.leaf(P.linear(f, k, 1), (k,))))
    children.append(("fc_reg", CostNode.leaf(P.linear(f, layout.reg_out, 1), (layout.reg_out,))))
    return CostNode.of(children)


@lru_cache(maxsize=256)
def mask_head_cost(layout: RCNNLayout) -> CostNode:
    """One stage's mask head on one RoI (``FCNMaskHead``)."""
    s, ch, c, norm = layout.mask_roi_size, layout.in_chs, layout.conv_chs, layout.mask_norm
    convs = []
    for i in range(layout.mask_convs):
        convs.append(
            (
                str(i),
                conv_norm_act_cost(ch, c, 3, bias=norm is None, norm=norm, act="relu", hw=(s, s)),
            )
        )
        ch = c
    up = (2 * s, 2 * s)
    return CostNode.of(
        [
            ("convs", CostNode.of(convs)),
            ("upsample", CostNode.leaf(P.conv_transpose2d(ch, c, 2, (s, s)), (c, *up))),
            (
                "conv_logits",
                conv_norm_act_cost(c, layout.num_classes, 1, bias=True, norm=None, hw=up).child(
                    "conv"
                ),
            ),
        ]
    )


@lru_cache(maxsize=256)
def rcnn_cost(layout: RCNNLayout, level_hws: tuple[HW, ...]) -> CostNode:
    """Cost twin of :class:`~hirisearch.layers.rcnn_nn.RCNNHead` on levels of grids
    ``level_hws``, at the proposal convention of the module docstring."""
    box = times(box_head_cost(layout), layout.proposals)
    children = [
        ("rpn", rpn_cost(layout, level_hws)),
        ("bbox_head", CostNode.of([(str(i), box) for i in range(layout.stages)])),
    ]
    if layout.mask:
        mask = times(mask_head_cost(layout), min(layout.mask_proposals, layout.proposals))
        children.append(("mask_head", CostNode.of([(str(i), mask) for i in range(layout.stages)])))
    return CostNode.of(children)


def rpn_train(t: Tape, x: Sym, layout: RCNNLayout, hw: HW) -> list[Sym]:
    """Training twin of one call of :class:`~hirisearch.layers.rcnn_nn.RPNHead` on an ``hw``
    level: its scores and deltas."""
    c, a = layout.in_chs, layout.num_anchors
    with t.module("rpn_conv"):
        for i in range(layout.rpn_convs):
            with t.module(i):
                x, _ = conv_norm_act_train(t, x, c, c, 3, bias=True, norm=None, act="relu", hw=hw)
    outs = []
    for name, out_c in (("rpn_cls", a), ("rpn_reg", 4 * a)):
        with t.module(name):
            outs.append(conv_norm_act_train(t, x, c, out_c, 1, bias=True, norm=None, hw=hw)[0])
    return outs


def roi_conv_train(
    t: Tape, x: Sym, in_c: int, out_c: int, norm: MapNormKind | None, pixels: int
) -> Sym:
    """A 3x3 :class:`ConvNormAct` (ReLU; a bias without a norm) of a RoI head on ``pixels``
    positions per sample (every RoI's)."""
    with t.module("conv"):
        x = t.conv(x, in_c, out_c, 3, out_c * pixels, bias=norm is None)
    if norm:
        with t.module("norm"):
            x = norm_train(t, x, norm, out_c)
    with t.module("act"):
        return t.act(x, "relu")


def box_head_train(t: Tape, x: Sym, layout: RCNNLayout) -> list[Sym]:
    """Training twin of :class:`~hirisearch.layers.rcnn_nn.ConvFCBBoxHead` on the pooled
    features ``x`` of ``layout.proposals`` RoIs: class scores and box deltas."""
    s, ch, norm, n = layout.roi_size, layout.in_chs, layout.box_norm, layout.proposals
    if layout.box_convs:
        with t.module("shared_convs"):
            for i in range(layout.box_convs):
                with t.module(i):
                    x = roi_conv_train(t, x, ch, layout.conv_chs, norm, n * s * s)
                ch = layout.conv_chs
    # flatten(1): a view, but a copy after a map LayerNorm (its output is a permuted view)
    x = t.view(x, n * ch * s * s, strided=bool(layout.box_convs) and norm == "ln")
    f = ch * s * s
    for i in range(layout.box_fcs):
        with t.module("shared_fcs"), t.module(i):
            x = t.linear(x, f, layout.fc_chs)
        with t.module("relu"):
            x = t.act(x, "relu")
        f = layout.fc_chs
    outs = []
    for name, out_f in (("fc_cls", layout.num_classes + 1), ("fc_reg", layout.reg_out)):
        with t.module(name):
            outs.append(t.linear(x, f, out_f))
    return outs


def mask_head_train(t: Tape, x: Sym, layout: RCNNLayout, rois: int) -> Sym:
    """Training twin of :class:`~hirisearch.layers.rcnn_nn.FCNMaskHead` on the pooled features
    ``x`` of ``rois`` RoIs: the mask logits."""
    s, ch, c, norm = layout.mask_roi_size, layout.in_chs, layout.conv_chs, layout.mask_norm
    with t.module("convs"):
        for i in range(layout.mask_convs):
            with t.module(i):
                x = roi_conv_train(t, x, ch, c, norm, rois * s * s)
            ch = c
    up = rois * c * (2 * s) ** 2
    with t.module("upsample"):
        x = t.conv(x, ch, c, 2, up, bias=True)  # transposed: the same weights and savings
    with t.module("relu"):
        x = t.act(x, "relu")
    with t.module("conv_logits"):
        return t.conv(x, c, layout.num_classes, 1, up // c * layout.num_classes, bias=True)


def roi_align_train(t: Tape, x: Sym, rois: Sym, out_n: int) -> Sym:
    """torchvision's ``roi_align``: its autograd function keeps the RoIs (not the features), in
    the features' dtype as the meta census runs it (torchvision's own autocast kernel would keep
    an fp32 copy: 10 bytes more per RoI under bf16)."""
    out = t.new(out_n, x.b)
    t.keep(rois)
    return out


def rcnn_train(
    t: Tape, feats: list[Sym], layout: RCNNLayout, level_hws: tuple[HW, ...]
) -> list[Sym]:
    """Training twin of :class:`~hirisearch.layers.rcnn_nn.RCNNHead`: its outputs in order.

    The RoIs (batch index and a fixed box, in the features' dtype, 5 numbers each) need no
    gradient; RoIAlign keeps them; the mask heads' are a copy of the first ``mask_proposals``
    of each image (a view only at batch 1)."""
    outs: list[Sym] = []
    with t.module("rpn"):
        for level, (x, hw) in enumerate(zip(feats, level_hws, strict=True)):
            start, tensors = len(t.events), t.param_tensors
            outs.extend(rpn_train(t, x, layout, hw))
            if level:  # the same module again: one gradient per parameter, one autocast copy
                for e in t.events[start:]:
                    e.params, e.copies = 0, (0,) * len(e.copies)
                t.param_tensors = tensors
    x, p = feats[0], layout.proposals
    t.buffer(4 * 4 * p)  # the fixed boxes (fp32 x1, y1, x2, y2)
    rois = t.new(5 * p, x.b, grad=False)
    for i in range(layout.stages):
        pooled = roi_align_train(t, x, rois, p * layout.in_chs * layout.roi_size**2)
        with t.module("bbox_head"), t.module(i):
            outs.extend(box_head_train(t, pooled, layout))
    if layout.mask:
        m = min(layout.mask_proposals, p)
        mask_rois = t.new(5 * m, x.b, grad=False)
        for i in range(layout.stages):
            pooled = roi_align_train(t, x, mask_rois, m * layout.in_chs * layout.mask_roi_size**2)
            with t.module("mask_head"), t.module(i):
                outs.append(mask_head_train(t, pooled, layout, m))
    return outs
