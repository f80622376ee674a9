"""The ``nn.Module`` half of :mod:`hirisearch.layers.mix_ffn` (imported only when a model is built).

HRViT's feed-forward parts: the mixed-scale convolutional FFN (MixCFN) and the
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.mix_ffn import (
    Hw,
    des_factors,
)
from hirisearch.layers.norm_act import ActKind
from hirisearch.layers.norm_act_nn import make_act


class MixConv2d(nn.Module):
    """Depth-wise conv: 3x3 on the first ``dim // 2`` channels, 5x5 on the rest (stride 1, bias)."""

    def __init__(self, dim: int, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.split = (dim // 2, dim - dim // 2)
        a, b = self.split
        self.conv3 = nn.Conv2d(a, a, 3, 1, 1, groups=a, **dd)
        self.conv5 = nn.Conv2d(b, b, 5, 1, 2, groups=b, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.split(self.split, dim=1)
        return torch.cat([self.conv3(a), self.conv5(b)], dim=1)


class MixCFN(nn.Module):
    """Mixed-scale convolutional FFN on tokens (B, N, C) of an ``hw`` grid."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        *,
        act: ActKind = "gelu",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.fc1 = nn.Linear(in_features, hidden_features, **dd)
        self.conv = MixConv2d(hidden_features, **dd)
        self.act = make_act(act)
        self.fc2 = nn.Linear(hidden_features, out_features or in_features, **dd)

    def forward(self, x: torch.Tensor, hw: Hw) -> torch.Tensor:
        x = self.fc1(x)
        b, n, c = x.shape
        x = self.conv(x.transpose(1, 2).reshape(b, c, *hw)).flatten(2).transpose(1, 2)
        return self.fc2(self.act(x))


class DiversityEnhancedShortcut(nn.Module):
    """DES: ``fc_k(act(fc_p(x.view(k_in, p)))^T)^T`` flattened back to ``out_features`` channels.

    Both widths must be multiples of ``p`` (see :func:`des_factors`); the spec checks that.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        act: ActKind = "gelu",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.p, self.k_in, self.k_out = des_factors(in_features, out_features)
        self.fc_p = nn.Linear(self.p, self.p, **dd)
        self.act = make_act(act)
        self.fc_k = nn.Linear(self.k_in, self.k_out, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x = self.act(self.fc_p(x.reshape(*lead, self.k_in, self.p))).transpose(-1, -2)
        return self.fc_k(x).transpose(-1, -2).reshape(*lead, self.k_out * self.p)
