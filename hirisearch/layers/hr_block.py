"""HIRI-ViT's HR-block (Yao et al., TPAMI 2024; reconstructed, see :mod:`hirisearch.models.hiri_vit`):
a depth-wise branch at full resolution plus an up-sampled low-resolution branch, then a
convolutional FFN on the map (or, with ``cffn="low_res"``, the FFN inside the low-resolution
branch)."""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost
from hirisearch.layers.mlp import conv_ffn_cost
from hirisearch.layers.norm_act import ActKind, NormKind


@lru_cache(maxsize=4096)
def hr_block_cost(
    dim: int,
    *,
    mlp_ratio: float = 4.0,
    cffn: str = "full",
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    hw: tuple[int, int],
) -> CostNode:
    """Cost twin of :class:`HRBlock` on an ``hw`` map."""
    hidden = int(dim * mlp_ratio)
    hr = conv_norm_act_cost(dim, dim, 3, groups=dim, norm=norm, hw=hw)
    down = conv_norm_act_cost(dim, dim, 3, 2, groups=dim, norm=norm, hw=hw)
    low = (down.out_shape[-2], down.out_shape[-1])
    if cffn == "full":
        lr = CostNode.of(
            [
                ("0", down),
                ("1", conv_norm_act_cost(dim, dim, 1, norm=norm, act=act, hw=low)),
                ("2", conv_norm_act_cost(dim, dim, 3, groups=dim, norm=norm, hw=low)),
                ("3", conv_norm_act_cost(dim, dim, 1, norm=norm, hw=low)),
            ]
        )
        ffn = conv_ffn_cost(dim, hidden, norm=norm, act=act, hw=hw)
        return CostNode.of([("hr", hr), ("lr", lr), ("cffn", ffn)], out_shape=hr.out_shape)
    lr = CostNode.of([("0", down), ("1", conv_ffn_cost(dim, hidden, norm=norm, act=act, hw=low))])
    return CostNode.of([("hr", hr), ("lr", lr)], out_shape=hr.out_shape)
