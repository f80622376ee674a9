"""HIRI-ViT's HR-block (Yao et al., TPAMI 2024; reconstructed, see :mod:`hirisearch.models.hiri_vit`):
a depth-wise branch at full resolution plus an up-sampled low-resolution branch, then a
convolutional FFN on the map (or, with ``cffn="low_res"``, the FFN inside the low-resolution
branch)."""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.mlp import conv_ffn_cost, conv_ffn_train
from hirisearch.layers.norm_act import ActKind, NormKind
from hirisearch.train.tape import Sym, Tape


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


def hr_block_train(
    t: Tape,
    x: Sym,
    dim: int,
    *,
    mlp_ratio: float = 4.0,
    cffn: str = "full",
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    drop_path: float = 0.0,
    hw: tuple[int, int],
) -> Sym:
    """Training twin of :class:`HRBlock` (the low-resolution branch runs first)."""
    hidden = int(dim * mlp_ratio)
    with t.module("lr"):
        with t.module(0):
            low, low_hw = conv_norm_act_train(t, x, dim, dim, 3, 2, groups=dim, norm=norm, hw=hw)
        if cffn == "full":
            with t.module(1):
                low, _ = conv_norm_act_train(t, low, dim, dim, 1, norm=norm, act=act, hw=low_hw)
            with t.module(2):
                low, _ = conv_norm_act_train(t, low, dim, dim, 3, groups=dim, norm=norm, hw=low_hw)
            with t.module(3):
                low, _ = conv_norm_act_train(t, low, dim, dim, 1, norm=norm, hw=low_hw)
        else:
            with t.module(1):
                low = conv_ffn_train(t, low, dim, hidden, norm=norm, act=act, hw=low_hw)
    low = t.copy(low, x.n)  # bilinear up-sampling
    with t.module("hr"):
        h, _ = conv_norm_act_train(t, x, dim, dim, 3, groups=dim, norm=norm, hw=hw)
    with t.module("drop_path"):
        h = t.drop_path(t.add(h, low), drop_path)
    y = t.add(x, h)
    if cffn != "full":
        return y
    with t.module("cffn"):
        h = conv_ffn_train(t, y, dim, hidden, norm=norm, act=act, hw=hw)
    with t.module("drop_path"):
        h = t.drop_path(h, drop_path)
    return t.add(y, h)
