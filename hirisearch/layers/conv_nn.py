"""The ``nn.Module`` half of :mod:`hirisearch.layers.conv` (imported only when a model is built).

Convolution + norm + activation, the building unit of every convolutional part.
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.norm_act import ActKind, MapNormKind
from hirisearch.layers.norm_act_nn import make_act, make_norm


class ConvNormAct(nn.Module):
    """``act(norm(conv(x)))`` with 'same' padding; ``norm`` or ``act`` may be ``None``.

    Padding is ``kernel_size // 2``, so a stride-2 layer maps H to ceil(H / 2).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        stride: int = 1,
        *,
        groups: int = 1,
        bias: bool = False,
        norm: MapNormKind | None = "bn",
        act: ActKind | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.conv = nn.Conv2d(
            in_chs, out_chs, kernel_size, stride, kernel_size // 2, groups=groups, bias=bias, **dd
        )
        self.norm = make_norm(norm, out_chs, "map", **dd) if norm else nn.Identity()
        self.act = make_act(act) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))
