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

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.layers.norm_act import ActKind
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]


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


def mix_cfn_train(
    t: Tape, x: Sym, in_features: int, hidden: int, *, act: ActKind = "gelu", hw: Hw
) -> Sym:
    """Training twin of :class:`MixCFN`: fc1, the two depth-wise convs on halves of the channels
    (views of fc1's output, a channels-last map), their concatenation, act, fc2."""
    n = hw[0] * hw[1]
    a, b = hidden // 2, hidden - hidden // 2
    with t.module("fc1"):
        h = t.linear(x, in_features, hidden)
    with t.module("conv"):
        with t.module("conv3"):
            ya = t.conv(t.view(h, n * a), a, a, 3, n * a, groups=a, bias=True)
        with t.module("conv5"):
            yb = t.conv(t.view(h, n * b), b, b, 5, n * b, groups=b, bias=True)
        h = t.cat([ya, yb])
    with t.module("act"):
        h = t.act(h, act)
    with t.module("fc2"):
        return t.linear(h, hidden, in_features)


def des_train(
    t: Tape, x: Sym, in_features: int, out_features: int, *, act: ActKind = "gelu"
) -> Sym:
    """Training twin of :class:`DiversityEnhancedShortcut`: ``fc_k`` reads a transposed view,
    which its matmul copies."""
    p, k_in, k_out = des_factors(in_features, out_features)
    tokens = x.n // in_features
    with t.module("fc_p"):
        h = t.linear(x, p, p)
    with t.module("act"):
        h = t.act(h, act)
    with t.module("fc_k"):
        h = t.linear(t.copy(h), k_in, k_out)
    return t.copy(h, tokens * out_features)  # transposed back and flattened
