"""The ``nn.Module`` half of :mod:`hirisearch.layers.rcnn` (imported only when a model is built).

Mask R-CNN / Cascade Mask R-CNN heads at mmdetection's dummy-forward proposal convention.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import roi_align

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.rcnn import RCNNLayout

#: Side of the fixed proposal boxes, in pixels (small: mmdetection maps them to the finest level).
BOX_SIDE = 32


class RPNHead(nn.Module):
    """3x3 conv(s) + ReLU, then per anchor one objectness score and four box deltas."""

    def __init__(self, layout: RCNNLayout, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        c, a = layout.in_chs, layout.num_anchors
        self.rpn_conv = nn.Sequential(
            *(
                ConvNormAct(c, c, 3, bias=True, norm=None, act="relu", **dd)
                for _ in range(layout.rpn_convs)
            )
        )
        self.rpn_cls = ConvNormAct(c, a, 1, bias=True, norm=None, **dd)
        self.rpn_reg = ConvNormAct(c, 4 * a, 1, bias=True, norm=None, **dd)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.rpn_conv(x)
        return self.rpn_cls(x), self.rpn_reg(x)


class ConvFCBBoxHead(nn.Module):
    """Shared 3x3 convs, shared linears (ReLU after each), a classifier and a box regressor."""

    def __init__(self, layout: RCNNLayout, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        ch, norm, s = layout.in_chs, layout.box_norm, layout.roi_size
        if layout.box_convs:
            convs = []
            for _ in range(layout.box_convs):
                convs.append(
                    ConvNormAct(
                        ch, layout.conv_chs, 3, bias=norm is None, norm=norm, act="relu", **dd
                    )
                )
                ch = layout.conv_chs
            self.shared_convs = nn.Sequential(*convs)
        fcs, f = [], ch * s * s
        for _ in range(layout.box_fcs):
            fcs.append(nn.Linear(f, layout.fc_chs, **dd))
            f = layout.fc_chs
        self.shared_fcs = nn.ModuleList(fcs)
        self.relu = nn.ReLU()
        self.fc_cls = nn.Linear(f, layout.num_classes + 1, **dd)
        self.fc_reg = nn.Linear(f, layout.reg_out, **dd)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if hasattr(self, "shared_convs"):
            x = self.shared_convs(x)
        x = x.flatten(1)
        for fc in self.shared_fcs:
            x = self.relu(fc(x))
        return self.fc_cls(x), self.fc_reg(x)


class FCNMaskHead(nn.Module):
    """3x3 convs + ReLU, a 2x2 stride-2 transposed conv + ReLU, a 1x1 conv to one mask per class."""

    def __init__(self, layout: RCNNLayout, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        ch, c, norm = layout.in_chs, layout.conv_chs, layout.mask_norm
        convs = []
        for _ in range(layout.mask_convs):
            convs.append(ConvNormAct(ch, c, 3, bias=norm is None, norm=norm, act="relu", **dd))
            ch = c
        self.convs = nn.Sequential(*convs)
        self.upsample = nn.ConvTranspose2d(ch, c, 2, stride=2, **dd)
        self.relu = nn.ReLU()
        self.conv_logits = nn.Conv2d(c, layout.num_classes, 1, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_logits(self.relu(self.upsample(self.convs(x))))


class RCNNHead(nn.Module):
    """The RPN on every level, then each stage's box head on ``proposals`` fixed RoIs per image
    and its mask head on the first ``mask_proposals`` (mmdetection 2.x's ``forward_dummy``).

    Returns the RPN's (scores, deltas) per level, then each stage's (class scores, box deltas),
    then each stage's mask logits, flattened into one tuple; every shape is fixed by the input's.
    """

    def __init__(
        self, layout: RCNNLayout, *, img_hw: tuple[int, int], device=None, dtype=None
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.layout = layout
        self.rpn = RPNHead(layout, **dd)
        self.bbox_head = nn.ModuleList(ConvFCBBoxHead(layout, **dd) for _ in range(layout.stages))
        if layout.mask:
            self.mask_head = nn.ModuleList(FCNMaskHead(layout, **dd) for _ in range(layout.stages))
        self.register_buffer(
            "boxes", fixed_boxes(layout.proposals, img_hw, device=device), persistent=False
        )

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        lay = self.layout
        outs: list[torch.Tensor] = []
        for x in feats:
            outs.extend(self.rpn(x))
        x, batch = feats[0], feats[0].shape[0]
        index = torch.arange(batch, device=x.device, dtype=x.dtype).repeat_interleave(lay.proposals)
        boxes: torch.Tensor = self.boxes  # type: ignore[assignment]  # a buffer
        rois = torch.cat([index[:, None], boxes.to(x.dtype).repeat(batch, 1)], dim=1)
        for head in self.bbox_head:
            outs.extend(head(self._pool(x, rois, lay.roi_size)))
        if lay.mask:
            m = min(lay.mask_proposals, lay.proposals)
            mask_rois = rois.view(batch, lay.proposals, 5)[:, :m].reshape(-1, 5)
            for head in self.mask_head:
                outs.append(head(self._pool(x, mask_rois, lay.mask_roi_size)))
        return tuple(outs)

    def _pool(self, x: torch.Tensor, rois: torch.Tensor, size: int) -> torch.Tensor:
        scale = 1.0 / self.layout.roi_stride
        return roi_align(x, rois, (size, size), spatial_scale=scale, sampling_ratio=0, aligned=True)


def fixed_boxes(n: int, img_hw: tuple[int, int], *, device=None) -> torch.Tensor:
    """``n`` deterministic ``BOX_SIDE``-pixel boxes (x1, y1, x2, y2) spread over the image."""
    i = torch.arange(n, device=device, dtype=torch.float32)
    x1 = torch.remainder(i * 37.0, float(max(1, img_hw[1] - BOX_SIDE)))
    y1 = torch.remainder(i * 61.0, float(max(1, img_hw[0] - BOX_SIDE)))
    return torch.stack([x1, y1, x1 + BOX_SIDE, y1 + BOX_SIDE], dim=1)
