"""The ``nn.Module`` half of :mod:`hirisearch.layers.segformer_head` (imported only when a model
is built).

SegFormer's all-MLP decode head.
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.upernet_nn import resize


class SegformerHead(nn.Module):
    """Per-level 1x1 projections, upsampled to the finest level, fused and classified."""

    def __init__(
        self,
        in_chs: tuple[int, ...],
        *,
        channels: int = 256,
        num_classes: int = 150,
        mlp_norm: bool = False,
        mlp_act: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.convs = nn.ModuleList(
            ConvNormAct(
                c,
                channels,
                1,
                bias=not mlp_norm,
                norm="bn" if mlp_norm else None,
                act="relu" if mlp_act else None,
                **dd,
            )
            for c in in_chs
        )
        self.fusion_conv = ConvNormAct(len(in_chs) * channels, channels, 1, act="relu", **dd)
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1, **dd)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[-2:]
        outs = [resize(conv(f), size) for conv, f in zip(self.convs, feats, strict=True)]
        return self.conv_seg(self.dropout(self.fusion_conv(torch.cat(outs, dim=1))))
