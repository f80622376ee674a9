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
