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
from hirisearch.train.tape import Sym, Tape

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


def _stripes_train(
    t: Tape, q: Sym, kv: Sym, dim: int, head_dim: int, ws: int, hw: Hw, *, vertical: bool
) -> Sym:
    """One half of the attention, inside stripes of ``ws`` rows of an ``hw`` grid (``hw``
    transposed for the vertical half). Returns its (B, N, C/2) output.

    The stripes are views of the qv projection, except where a reshape cannot view them: the
    vertical half's (its rows are the map's columns) unless the stripes are one column wide, and
    both after padding (``F.pad`` copies). The math attention's batched matmul then copies the
    value unless there is one head, or it reads the one-column vertical view, which it copies.
    """
    h, w = hw
    half = dim // 2
    heads, width = stripe_heads(dim, head_dim)
    pad = (-h) % ws
    if pad:
        q, kv = t.copy(q, (h + pad) * w * half), t.copy(kv, (h + pad) * w * half)  # F.pad
    elif vertical and ws > 1:
        q, kv = t.copy(q), t.copy(kv)  # the transposed stripes reshaped
    stripes, tokens = (h + pad) // ws, ws * w
    out = t.attention(  # five dimensions: the math path, on every device
        q,
        kv,
        kv,
        heads=heads * stripes,
        nq=tokens,
        nk=tokens,
        head_dim=width,
        ndim=5,
        mask="fixed" if pad else "none",
        v_copied=heads > 1 or (vertical and ws == 1 and not pad),
    )
    return t.view(out, h * w * half)  # cropped to the grid: a view


def cross_shaped_attention_train(
    t: Tape, x: Sym, dim: int, head_dim: int, window_size: int, *, hw: Hw
) -> Sym:
    """Training twin of :class:`CrossShapedAttention` on an ``hw`` grid."""
    n, half = hw[0] * hw[1], dim // 2
    with t.module("qv"):
        qv = t.linear(x, dim, 2 * dim)
    with t.module("act"):
        local = t.act(t.view(qv, n * dim), "hardswish")  # on V viewed as a map
    with t.module("dwconv"):
        local = t.conv(local, dim, dim, 3, n * dim, groups=dim, bias=True)
    q = t.view(qv, n * half)
    across = _stripes_train(t, q, q, dim, head_dim, window_size, hw, vertical=False)
    down = _stripes_train(t, q, q, dim, head_dim, window_size, (hw[1], hw[0]), vertical=True)
    down = t.copy(down, n * half)  # transposed back: reshape copies
    attn = t.add(t.cat([across, down]), local)
    with t.module("act"):
        attn = t.act(attn, "hardswish")
    with t.module("proj"):
        attn = t.linear(attn, dim, dim)
    with t.module("norm"):
        return t.batch_norm(attn, dim)
