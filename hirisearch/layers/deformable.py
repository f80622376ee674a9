"""One-level deformable cross-attention (Deformable-DETR style), pure PyTorch.

X. Zhu et al., "Deformable DETR", ICLR 2021. Every query attends to ``num_points`` locations per head
of a value map, placed at the query's reference point (the centre of its cell on the query grid,
in normalised [0, 1] coordinates) plus a learned offset measured in value-map cells. The values
there are read by bilinear interpolation (``F.grid_sample``, zero padding, ``align_corners=False``:
the semantics of the upstream CUDA kernel, which has no CPU version) and summed with softmax weights.

Counting: ``grid_sample`` is not counted by ``FlopCounterMode`` (it is listed among the uncounted
operators); the weighted sum over the sampled points is computed as a batched matmul so the traced
counter sees it as attention work, ``num_points`` MACs per query and value channel. The cost twin
counts exactly that as ``attn``; the four projections are ``linear``.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.train.tape import LOW, Sym, Tape

Hw = tuple[int, int]


@lru_cache(maxsize=1024)
def deformable_cross_attention_cost(
    dim: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    feat_dim: int | None = None,
    query_hw: Hw,
    feat_hw: Hw,
) -> CostNode:
    """Cost twin of :class:`DeformableCrossAttention` (bilinear sampling itself is not counted)."""
    nq = query_hw[0] * query_hw[1]
    nf = feat_hw[0] * feat_hw[1]
    value_dim = int(dim * value_ratio)
    children = [
        ("sampling_offsets", CostNode.leaf(P.linear(dim, num_heads * num_points * 2, nq))),
        ("attention_weights", CostNode.leaf(P.linear(dim, num_heads * num_points, nq))),
        ("value_proj", CostNode.leaf(P.linear(feat_dim or dim, value_dim, nf))),
        ("output_proj", CostNode.leaf(P.linear(value_dim, dim, nq))),
    ]
    own = Cost(attn=nq * num_points * value_dim, acts=nq * value_dim)
    return CostNode.of(children, own=own, out_shape=(nq, dim))


def deformable_cross_attention_train(
    t: Tape,
    query: Sym,
    feat: Sym,
    dim: int,
    *,
    num_heads: int = 16,
    num_points: int = 4,
    value_ratio: float = 0.5,
    feat_dim: int | None = None,
    query_hw: Hw,
    feat_hw: Hw,
) -> Sym:
    """Training twin of :class:`DeformableCrossAttention`."""
    nq = query_hw[0] * query_hw[1]
    value_dim = int(dim * value_ratio)
    hp = num_heads * num_points
    with t.module("value_proj"):
        value = t.linear(feat, feat_dim or dim, value_dim)
    value = t.copy(value)  # transposed into (B * heads, head dim, H, W)
    with t.module("sampling_offsets"):
        offsets = t.linear(query, dim, 2 * hp)
    with t.module("attention_weights"):
        weights = t.linear(query, dim, hp)
    weights = t.softmax(weights)
    # offsets scaled by a constant (kept: two numbers, offsets' dtype), moved to the reference
    # points (in the query's dtype), mapped to [-1, 1], permuted (copies)
    t.keep(t.new(2, LOW, grad=False, shared=True))
    ref = t.new(nq * 2, query.b, grad=False, shared=True)
    loc = t.add(ref, t.copy(offsets))
    grid = t.copy(t.copy(t.copy(loc)))
    sampled = t.grid_sample(value, grid, nq * hp * value_dim // num_heads)
    w = weights if nq == 1 else t.copy(weights)  # permuted (a view for one query)
    out = t.matmul(w, t.copy(sampled), nq * value_dim)  # the sampled values permuted (a copy)
    out = t.copy(out)  # heads merged
    with t.module("output_proj"):
        return t.linear(out, value_dim, dim)
