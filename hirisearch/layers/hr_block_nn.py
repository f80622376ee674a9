"""The ``nn.Module`` half of :mod:`hirisearch.layers.hr_block` (imported only when a model is built).

HIRI-ViT's HR-block: ``y = x + HR(x) + Up(LR(x)); out = y + CFFN(y)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.drop_path_nn import DropPath
from hirisearch.layers.mlp_nn import ConvFFN
from hirisearch.layers.norm_act import ActKind, NormKind


class HRBlock(nn.Module):
    """HR-block: ``y = x + HR(x) + Up(LR(x)); out = y + CFFN(y)`` (``hr_cffn: full``), or
    ``out = x + HR(x) + Up(LR(x))`` with the CFFN inside the low-resolution branch (``low_res``)."""

    def __init__(
        self,
        dim: int,
        *,
        mlp_ratio: float = 4.0,
        cffn: str = "full",
        norm: NormKind = "bn",
        act: ActKind = "gelu",
        drop_path: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        hidden = int(dim * mlp_ratio)
        self.hr = ConvNormAct(dim, dim, 3, groups=dim, norm=norm, **dd)
        down = ConvNormAct(dim, dim, 3, 2, groups=dim, norm=norm, **dd)
        if cffn == "full":
            self.lr = nn.Sequential(
                down,
                ConvNormAct(dim, dim, 1, norm=norm, act=act, **dd),
                ConvNormAct(dim, dim, 3, groups=dim, norm=norm, **dd),
                ConvNormAct(dim, dim, 1, norm=norm, **dd),
            )
            self.cffn = ConvFFN(dim, hidden, norm=norm, act=act, **dd)
        else:
            self.lr = nn.Sequential(down, ConvFFN(dim, hidden, norm=norm, act=act, **dd))
            self.cffn = None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    cffn: ConvFFN | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = F.interpolate(self.lr(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
        y = x + self.drop_path(self.hr(x) + low)
        if self.cffn is None:
            return y
        return y + self.drop_path(self.cffn(y))
