"""The ``nn.Module`` half of :mod:`hirisearch.layers.mlp` (imported only when a model is built).

Feed-forward networks: the token MLP (optionally with a depth-wise conv, PVTv2 / HIRI-ViT CFFN
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.norm_act import ActKind, NormKind
from hirisearch.layers.norm_act_nn import make_act


class Mlp(nn.Module):
    """``fc2(act(dwconv(fc1(x))))`` on tokens (B, N, C); ``dwconv`` (3x3, depth-wise, on the token
    grid) only when ``dw_conv`` is set, which gives the convolutional FFN of HIRI-ViT's
    Transformer stages (no position embedding needed)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        *,
        dw_conv: bool = True,
        act: ActKind = "gelu",
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias, **dd)
        self.dwconv = (
            nn.Conv2d(hidden_features, hidden_features, 3, 1, 1, groups=hidden_features, **dd)
            if dw_conv
            else None
        )
        self.act = make_act(act)
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias, **dd)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = self.fc1(x)
        if self.dwconv is not None:
            b, n, c = x.shape
            # Tokens (B, N, C) are an NHWC map; viewed through reshape + permute the grid has
            # exact channels_last strides, so the depth-wise conv runs its NHWC kernel in place
            # (transpose(1, 2).reshape leaves a batch stride of C at batch 1: the conv copied the
            # map to NCHW, and its NCHW output cost a second copy on the way back to tokens).
            grid = x.reshape(b, hw[0], hw[1], c).permute(0, 3, 1, 2)
            x = self.dwconv(grid).permute(0, 2, 3, 1).reshape(b, n, c)
        return self.fc2(self.act(x))


class ConvFFN(nn.Module):
    """Convolutional FFN on a map: 1x1 expand + norm, 3x3 depth-wise + norm + act, 1x1 project + norm."""

    def __init__(
        self,
        dim: int,
        hidden: int,
        *,
        norm: NormKind = "bn",
        act: ActKind = "gelu",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.fc1 = ConvNormAct(dim, hidden, 1, norm=norm, **dd)
        self.dw = ConvNormAct(hidden, hidden, 3, groups=hidden, norm=norm, act=act, **dd)
        self.fc2 = ConvNormAct(hidden, dim, 1, norm=norm, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dw(self.fc1(x)))
