"""The ``nn.Module`` half of :mod:`hirisearch.layers.sfp` (imported only when a model is built).

ViTDet's simple feature pyramid over one stride-16 map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.norm_act import MapNormKind
from hirisearch.layers.norm_act_nn import make_norm
from hirisearch.layers.sfp import SCALES, sfp_levels


class SimpleFeaturePyramid(nn.Module):
    """Levels at ``scales`` of one map (the last of the maps ``forward`` takes: a plain ViT's
    only one), each through a 1x1 and a 3x3 conv with a norm; P6 max-pools the last level when
    ``top_block``."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int = 256,
        *,
        stride: int = 16,
        scales: tuple[float, ...] = SCALES,
        norm: MapNormKind | None = "ln",
        top_block: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.top_block = top_block
        self.names = []
        for name, s, c, _ in sfp_levels(in_chs, (1, 1), stride, scales):
            layers: list[nn.Module] = []
            if s == 4.0:
                layers += [
                    nn.ConvTranspose2d(in_chs, in_chs // 2, 2, stride=2, **dd),
                    make_norm("ln", in_chs // 2, "map", **dd),
                    nn.GELU(),
                    nn.ConvTranspose2d(in_chs // 2, c, 2, stride=2, **dd),
                ]
            elif s == 2.0:
                layers.append(nn.ConvTranspose2d(in_chs, c, 2, stride=2, **dd))
            elif s == 0.5:
                layers.append(nn.MaxPool2d(2, 2))
            bias = norm is None
            layers += [
                ConvNormAct(c, out_chs, 1, bias=bias, norm=norm, **dd),
                ConvNormAct(out_chs, out_chs, 3, bias=bias, norm=norm, **dd),
            ]
            self.add_module(name, nn.Sequential(*layers))
            self.names.append(name)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        x = feats[-1]
        outs = [getattr(self, name)(x) for name in self.names]
        if self.top_block:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return outs
