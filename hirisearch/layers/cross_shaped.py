"""Cross-shaped window self-attention with a shared key/value projection (HRViT).

Half of the channels attend inside horizontal stripes (``window_size`` rows x the full width), the
other half inside vertical stripes (``window_size`` columns x the full height). Keys are the values
(one ``qv`` projection gives queries and values, which halves the projection cost). A parallel
depth-wise 3x3 conv on the values adds locality; the sum goes through Hardswish, the output
projection and a BatchNorm whose scale starts at zero (the attention path is silent at
initialisation, as in the paper).

A map whose side is not a multiple of ``window_size`` is zero-padded to the next multiple; padded
keys are masked out, so valid queries never see them. Attention runs through
``F.scaled_dot_product_attention`` (counted on the meta device).
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode

Hw = tuple[int, int]


def stripe_heads(dim: int, head_dim: int) -> tuple[int, int]:
    """(num_heads, channels per head) of one half (``dim // 2`` channels) of the attention.

    A half narrower than ``head_dim`` runs as a single head of its own width.
    """
    half = dim // 2
    width = min(head_dim, half)
    return half // width, width


@lru_cache(maxsize=4096)
def cross_shaped_attention_cost(dim: int, head_dim: int, window_size: int, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`CrossShapedAttention` on an ``hw`` grid (padded stripes included)."""
    h, w = hw
    n = h * w
    num_heads, width = stripe_heads(dim, head_dim)
    ws = window_size
    rows, cols = -(-h // ws), -(-w // ws)  # stripes per direction, after padding
    own = P.attention(num_heads * rows, ws * w, ws * w, width) + P.attention(
        num_heads * cols, ws * h, ws * h, width
    )
    children = [
        ("qv", CostNode.leaf(P.linear(dim, 2 * dim, n))),
        ("dwconv", CostNode.leaf(P.conv2d(dim, dim, 3, hw, groups=dim, bias=True))),
        ("proj", CostNode.leaf(P.linear(dim, dim, n))),
        ("norm", CostNode.leaf(P.batch_norm(dim, dim * n))),
    ]
    return CostNode.of(children, own=own, out_shape=(n, dim))
