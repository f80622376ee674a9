"""HRViT's feed-forward parts: the mixed-scale convolutional FFN (MixCFN) and the
diversity-enhanced shortcut (DES).

- :class:`MixConv2d`: depth-wise conv whose first half of the channels uses a 3x3 kernel and the
  second half a 5x5 kernel (multi-scale locality at depth-wise cost).
- :class:`MixCFN`: ``fc2(act(mixconv(fc1(x))))`` on a token grid.
- :class:`DiversityEnhancedShortcut`: a Kronecker-factored linear shortcut: the C channels are
  folded into a k x p matrix (p = 2^ceil(e/2), e = floor(log2 C)); a p x p linear mixes each row, a
  GELU, then a k x k' linear mixes the columns. Far fewer parameters than a dense C x C' map.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.norm_act import ActKind, make_act

Hw = tuple[int, int]


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


@lru_cache(maxsize=4096)
def mix_conv2d_cost(dim: int, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`MixConv2d` on an ``hw`` map."""
    a, b = dim // 2, dim - dim // 2
    return CostNode.of(
        [
            ("conv3", CostNode.leaf(P.conv2d(a, a, 3, hw, groups=a, bias=True))),
            ("conv5", CostNode.leaf(P.conv2d(b, b, 5, hw, groups=b, bias=True))),
        ],
        out_shape=(dim, *hw),
    )


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


@lru_cache(maxsize=4096)
def mix_cfn_cost(
    in_features: int,
    hidden_features: int,
    out_features: int | None = None,
    *,
    act: ActKind = "gelu",
    hw: Hw,
) -> CostNode:
    """Cost twin of :class:`MixCFN` on an ``hw`` grid."""
    out_features = out_features or in_features
    n = hw[0] * hw[1]
    return CostNode.of(
        [
            ("fc1", CostNode.leaf(P.linear(in_features, hidden_features, n))),
            ("conv", mix_conv2d_cost(hidden_features, hw=hw)),
            ("fc2", CostNode.leaf(P.linear(hidden_features, out_features, n))),
        ],
        out_shape=(n, out_features),
    )


def des_factors(in_features: int, out_features: int) -> tuple[int, int, int]:
    """(p, k_in, k_out) of the shortcut: p = 2^ceil(e/2) with e = floor(log2(min(in, out)))."""
    e = min(in_features, out_features).bit_length() - 1
    p = 2 ** (e - e // 2)
    return p, in_features // p, out_features // p


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


@lru_cache(maxsize=4096)
def des_cost(
    in_features: int, out_features: int, *, act: ActKind = "gelu", tokens: int
) -> CostNode:
    """Cost twin of :class:`DiversityEnhancedShortcut` over ``tokens`` tokens."""
    p, k_in, k_out = des_factors(in_features, out_features)
    return CostNode.of(
        [
            ("fc_p", CostNode.leaf(P.linear(p, p, tokens * k_in))),
            ("fc_k", CostNode.leaf(P.linear(k_in, k_out, tokens * p))),
        ],
        out_shape=(tokens, k_out * p),
    )
