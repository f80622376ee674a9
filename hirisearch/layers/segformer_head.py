"""SegFormer's all-MLP decode head (E. Xie et al., "SegFormer: Simple and Efficient Design for
Semantic Segmentation with Transformers", NeurIPS 2021), as HRViT's segmentation code runs it.

Per level a 1x1 projection to ``channels`` (``convs``: SegFormer's per-level linear layer with
bias; ``mlp_norm``/``mlp_act`` add mmseg's BN and ReLU), each upsampled bilinearly to the finest
level (no MACs) and concatenated, a 1x1 ``fusion_conv`` (conv without bias + BN + ReLU) and the
1x1 classifier ``conv_seg``. Cost twin of :class:`~hirisearch.layers.segformer_head_nn.SegformerHead`.
"""

from __future__ import annotations

from functools import lru_cache

from hirisearch.cost.types import CostNode
from hirisearch.layers.conv import conv_norm_act_cost, conv_norm_act_train
from hirisearch.layers.upernet import cls_conv_cost, cls_train, resize_train
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]


@lru_cache(maxsize=256)
def segformer_head_cost(
    in_chs: tuple[int, ...],
    in_hws: tuple[Hw, ...],
    *,
    channels: int = 256,
    num_classes: int = 150,
    mlp_norm: bool = False,
    mlp_act: bool = False,
) -> CostNode:
    """Cost twin of :class:`SegformerHead` on maps of ``in_chs`` channels on ``in_hws``."""
    convs = [
        (
            str(i),
            conv_norm_act_cost(
                c,
                channels,
                1,
                bias=not mlp_norm,
                norm="bn" if mlp_norm else None,
                act="relu" if mlp_act else None,
                hw=hw,
            ),
        )
        for i, (c, hw) in enumerate(zip(in_chs, in_hws, strict=True))
    ]
    fusion = conv_norm_act_cost(
        len(in_chs) * channels, channels, 1, norm="bn", act="relu", hw=in_hws[0]
    )
    return CostNode.of(
        [
            ("convs", CostNode.of(convs)),
            ("fusion_conv", fusion),
            ("conv_seg", cls_conv_cost(channels, num_classes, in_hws[0])),
        ]
    )


def segformer_head_train(
    t: Tape,
    feats: list[Sym],
    in_chs: tuple[int, ...],
    in_hws: tuple[Hw, ...],
    *,
    channels: int = 256,
    num_classes: int = 150,
    mlp_norm: bool = False,
    mlp_act: bool = False,
) -> Sym:
    """Training twin of :class:`SegformerHead` on ``feats`` (finest first); returns the logits."""
    outs = []
    with t.module("convs"):
        for i, (x, c, hw) in enumerate(zip(feats, in_chs, in_hws, strict=True)):
            with t.module(i):
                y, _ = conv_norm_act_train(
                    t,
                    x,
                    c,
                    channels,
                    1,
                    bias=not mlp_norm,
                    norm="bn" if mlp_norm else None,
                    act="relu" if mlp_act else None,
                    hw=hw,
                )
            outs.append(resize_train(t, y, channels, hw, in_hws[0]))
    with t.holding(outs):  # ``forward`` holds its list of upsampled maps until it returns
        with t.module("fusion_conv"):
            fused, _ = conv_norm_act_train(
                t, t.cat(outs), len(in_chs) * channels, channels, 1, act="relu", hw=in_hws[0]
            )
        return cls_train(t, fused, channels, num_classes, in_hws[0])
