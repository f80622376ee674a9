"""SegFormer's all-MLP head as a task head (``segformer``): :mod:`hirisearch.layers.segformer_head`
on every level of a backbone's pyramid."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from hirisearch.cost.types import CostNode
from hirisearch.layers.segformer_head import segformer_head_cost, segformer_head_train
from hirisearch.lazy import LazyCallable
from hirisearch.tasks.parts import Part, PartConfig
from hirisearch.tasks.pyramid import Hw, Pyramid
from hirisearch.train.tape import Sym, Tape


class SegformerConfig(PartConfig):
    """The head's settings: ``channels`` is SegFormer's ``embed_dim`` (256 for HRViT-b1/b2 and
    SegFormer-B0/B1, 768 for HRViT-b3 and SegFormer-B2..B5); ``mlp_norm``/``mlp_act``: mmseg's
    BN and ReLU after each level's projection (HRViT and SegFormer have neither)."""

    num_classes: int = Field(150, ge=1)
    channels: int = Field(256, ge=1)
    mlp_norm: bool = False
    mlp_act: bool = False


@dataclass(frozen=True)
class SegformerPlan:
    in_chs: tuple[int, ...]
    in_hws: tuple[Hw, ...]
    channels: int
    num_classes: int
    mlp_norm: bool
    mlp_act: bool


def plan_segformer(config: SegformerConfig, pyramid: Pyramid, img_hw: Hw) -> SegformerPlan:
    """The head on every level of ``pyramid``."""
    return SegformerPlan(
        in_chs=tuple(lv.channels for lv in pyramid),
        in_hws=tuple(lv.hw for lv in pyramid),
        channels=config.channels,
        num_classes=config.num_classes,
        mlp_norm=config.mlp_norm,
        mlp_act=config.mlp_act,
    )


def cost_segformer(plan: SegformerPlan) -> CostNode:
    return segformer_head_cost(
        plan.in_chs,
        plan.in_hws,
        channels=plan.channels,
        num_classes=plan.num_classes,
        mlp_norm=plan.mlp_norm,
        mlp_act=plan.mlp_act,
    )


def train_segformer(plan: SegformerPlan, t: Tape, feats: list[Sym]) -> Sym:
    """Training twin of the head: its logits."""
    return segformer_head_train(
        t,
        feats,
        plan.in_chs,
        plan.in_hws,
        channels=plan.channels,
        num_classes=plan.num_classes,
        mlp_norm=plan.mlp_norm,
        mlp_act=plan.mlp_act,
    )


def conventions(plan: SegformerPlan) -> tuple[str, ...]:
    return (
        f"SegFormer head: embed_dim {plan.channels}, logits at the finest level (the resize to "
        "the image has no MACs)",
    )


PART = Part(
    name="segformer",
    kind="head",
    title="SegFormer's all-MLP head",
    config=SegformerConfig,
    plan=plan_segformer,
    cost=cost_segformer,
    build=LazyCallable("hirisearch.tasks.segformer_nn", "build_segformer"),
    conventions=conventions,
    train=train_segformer,
)
