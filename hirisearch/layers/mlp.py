"""Feed-forward networks: the token MLP (optionally with a depth-wise conv, PVTv2 / HIRI-ViT CFFN
token form) and the convolutional CFFN used on feature maps."""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.norm_act import ActKind, NormKind
from hirisearch.train.tape import Sym, Tape


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


@lru_cache(maxsize=4096)
def conv_ffn_cost(
    dim: int,
    hidden: int,
    *,
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`ConvFFN` on an ``hw`` map."""
    return CostNode.of(
        [
            ("fc1", conv_norm_act_cost(dim, hidden, 1, norm=norm, hw=hw)),
            (
                "dw",
                conv_norm_act_cost(hidden, hidden, 3, groups=hidden, norm=norm, act=act, hw=hw),
            ),
            ("fc2", conv_norm_act_cost(hidden, dim, 1, norm=norm, hw=hw)),
        ]
    )


def mlp_train(
    t: Tape,
    x: Sym,
    in_features: int,
    hidden_features: int,
    out_features: int | None = None,
    *,
    dw_conv: bool = True,
    act: ActKind = "gelu",
    bias: bool = True,
    hw: tuple[int, int],
) -> Sym:
    """Training twin of :class:`Mlp` (and of timm's ``Mlp``, the same operators at the same
    paths without ``dwconv``)."""
    out_features = out_features or in_features
    with t.module("fc1"):
        h = t.linear(x, in_features, hidden_features, bias=bias)
    if dw_conv:  # the token grid viewed as a channels-last map: no copies
        with t.module("dwconv"):
            h = t.conv(
                h, hidden_features, hidden_features, 3, h.n, groups=hidden_features, bias=True
            )
    with t.module("act"):
        h = t.act(h, act)
    with t.module("fc2"):
        return t.linear(h, hidden_features, out_features, bias=bias)


def conv_ffn_train(
    t: Tape,
    x: Sym,
    dim: int,
    hidden: int,
    *,
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    hw: tuple[int, int],
) -> Sym:
    """Training twin of :class:`ConvFFN`."""
    with t.module("fc1"):
        x, _ = conv_norm_act_train(t, x, dim, hidden, 1, norm=norm, hw=hw)
    with t.module("dw"):
        x, _ = conv_norm_act_train(
            t, x, hidden, hidden, 3, groups=hidden, norm=norm, act=act, hw=hw
        )
    with t.module("fc2"):
        x, _ = conv_norm_act_train(t, x, hidden, dim, 1, norm=norm, hw=hw)
    return x
