"""Feed-forward networks: the token MLP (optionally with a depth-wise conv, PVTv2 / HIRI-ViT CFFN
token form) and the convolutional CFFN used on feature maps."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import ConvNormAct, conv_norm_act_cost
from hirisearch.layers.norm_act import ActKind, NormKind, make_act


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
            # exact channels_last strides, so the depth-wise conv runs its NHWC kernel in place.
            # (transpose(1, 2).reshape leaves a batch stride of C at batch 1, which the conv does
            # not take for channels_last: it copied the map to NCHW, and its NCHW output cost a
            # second copy on the way back to tokens.)
            grid = x.reshape(b, hw[0], hw[1], c).permute(0, 3, 1, 2)
            x = self.dwconv(grid).permute(0, 2, 3, 1).reshape(b, n, c)
        return self.fc2(self.act(x))


@lru_cache(maxsize=4096)
def mlp_cost(
    in_features: int,
    hidden_features: int,
    out_features: int | None = None,
    *,
    dw_conv: bool = True,
    act: ActKind = "gelu",
    bias: bool = True,
    hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`Mlp` on an ``hw`` token grid."""
    out_features = out_features or in_features
    tokens = hw[0] * hw[1]
    children = [("fc1", CostNode.leaf(P.linear(in_features, hidden_features, tokens, bias=bias)))]
    if dw_conv:
        dw = P.conv2d(hidden_features, hidden_features, 3, hw, groups=hidden_features, bias=True)
        children.append(("dwconv", CostNode.leaf(dw)))
    children.append(
        ("fc2", CostNode.leaf(P.linear(hidden_features, out_features, tokens, bias=bias)))
    )
    return CostNode.of(children, out_shape=(tokens, out_features))


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


@lru_cache(maxsize=4096)
def conv_ffn_cost(
    dim: int,
    hidden: int,
    *,
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    in_hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`ConvFFN` on an ``in_hw`` map."""
    return CostNode.of(
        [
            ("fc1", conv_norm_act_cost(dim, hidden, 1, norm=norm, in_hw=in_hw)),
            (
                "dw",
                conv_norm_act_cost(
                    hidden, hidden, 3, groups=hidden, norm=norm, act=act, in_hw=in_hw
                ),
            ),
            ("fc2", conv_norm_act_cost(hidden, dim, 1, norm=norm, in_hw=in_hw)),
        ]
    )
