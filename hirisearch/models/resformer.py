"""ResFormer: a DeiT with a resolution-agnostic global-local positional embedding (GLPE).

R. Tian et al., "ResFormer: Scaling ViTs with Multi-Resolution Training", CVPR 2023
(arXiv 2212.00776; ruitian12/resformer). RECONSTRUCTED from the paper's description, not copied:

- global: the 2D sine-cosine embedding of the current token grid (MAE layout: sin/cos of the column,
  then of the row, ``embed_dim / 4`` frequencies each) passed through a depth-wise 3x3 conv, added
  once to the patch tokens after the patch embedding (the class token gets none);
- local: inside every attention layer a depth-wise 3x3 conv on V (the grid tokens, one conv over the
  ``head_dim`` channels shared by all heads) is added to ``softmax(Q K^T) V``.
Both are computed for whatever grid arrives, so the model has no resolution-bound parameter. The
multi-resolution training and its scale-consistency loss cost nothing at inference and are not
modelled. The global embedding is computed once per forward pass (it does not depend on the image),
so its small conv cost is per pass, not per sample (0.7 MMACs for ResFormer-S at 224).

Check: ResFormer-S at 224 has 21.99M params and 4.62 GFLOPs (fvcore on the official code).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import model_validator

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.errors import FieldError
from hirisearch.layers.vit import prenorm_block_cost
from hirisearch.lazy import LazyCallable
from hirisearch.models.base import Family, calibration_specs, network_rows
from hirisearch.models.resolution import Hw, as_hw, check_resolution
from hirisearch.models.vit import PlainViTFields, size_reason
from hirisearch.tasks.pyramid import Level, Pyramid


# ----------------------------------------------------------------------------------------- spec
class ResFormerSpec(PlainViTFields):
    """A ResFormer configuration (DeiT widths, patch 16, class token)."""

    family: Literal["resformer"]

    @model_validator(mode="after")
    def _check(self) -> ResFormerSpec:
        if self.embed_dim % self.num_heads:
            raise FieldError(
                "num_heads",
                f"`embed_dim % num_heads == 0` must hold, but got embed_dim={self.embed_dim}, "
                f"num_heads={self.num_heads}",
            )
        if self.embed_dim % 4:
            raise FieldError(
                "embed_dim",
                f"the 2D sine-cosine embedding needs `embed_dim % 4 == 0`, but got {self.embed_dim}",
            )
        return self


# ----------------------------------------------------------------------------------------- plan
@dataclass(frozen=True, slots=True)
class ResFormerPlan:
    name: str
    family: str
    img_size: Hw  # (height, width)
    in_chans: int
    num_classes: int
    patch_size: int
    padded_img: Hw  # the image padded to a multiple of the patch on each axis
    hw: Hw  # token grid
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    qkv_bias: bool
    drop_path: tuple[float, ...]
    outputs: Literal["classification", "pyramid"] = "classification"

    @property
    def tokens(self) -> int:
        return self.hw[0] * self.hw[1] + 1

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.img_size)

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        if self.outputs == "pyramid":
            return (("stem", "patch_embed"), ("global pe", "gpe"), ("blocks", "blocks"))
        return (
            ("stem", "patch_embed"),
            ("global pe", "gpe"),
            ("blocks", "blocks"),
            ("norm", "norm"),
            ("head", "head"),
        )

    @property
    def out_grid(self) -> Hw:
        return self.hw


def plan_resformer(spec: ResFormerSpec, img_size: Hw | None = None) -> ResFormerPlan:
    """Derive the token grid at ``img_size`` ((height, width); default: the spec's)."""
    size = as_hw(spec.img_size if img_size is None else img_size)
    p = spec.patch_size
    check_resolution(lambda s: size_reason(spec, s), size, model=f"ResFormer ({spec.name})", step=p)
    padded = (-(-size[0] // p) * p, -(-size[1] // p) * p)
    rates = tuple(spec.drop_path_rate * i / max(spec.depth - 1, 1) for i in range(spec.depth))
    return ResFormerPlan(
        name=spec.name,
        family="resformer",
        img_size=size,
        in_chans=spec.in_chans,
        num_classes=spec.num_classes,
        patch_size=spec.patch_size,
        padded_img=padded,
        hw=(padded[0] // p, padded[1] // p),
        embed_dim=spec.embed_dim,
        depth=spec.depth,
        num_heads=spec.num_heads,
        mlp_ratio=spec.mlp_ratio,
        qkv_bias=spec.qkv_bias,
        drop_path=rates,
    )


# ----------------------------------------------------------------------------------------- cost
def cost_resformer(plan: ResFormerPlan) -> CostNode:
    """Analytic cost of the model described by ``plan``, keyed by the builder's module paths."""
    d, n, hw, num_heads = plan.embed_dim, plan.tokens, plan.hw, plan.num_heads
    hd = d // num_heads
    stem = CostNode.leaf(P.conv2d(plan.in_chans, d, plan.patch_size, hw, bias=True), (d, *hw))
    gpe_proj = CostNode.leaf(P.conv2d(d, d, 3, hw, groups=d, bias=True), (d, *hw))
    gpe = CostNode.of([("proj", gpe_proj)], out_shape=(hw[0] * hw[1], d))
    # the local PE conv runs once per head on the grid tokens, with one shared weight
    lpe = P.conv2d(hd, hd, 3, hw, groups=hd, bias=True).scaled(num_heads)
    attn = CostNode.of(
        [
            ("qkv", CostNode.leaf(P.linear(d, 3 * d, n, bias=plan.qkv_bias))),
            ("lpe", CostNode.leaf(lpe)),
            ("proj", CostNode.leaf(P.linear(d, d, n))),
        ],
        own=P.attention(num_heads, n, n, hd),
        out_shape=(n, d),
    )
    block = prenorm_block_cost(d, attn, tokens=n, mlp_ratio=plan.mlp_ratio)
    blocks = CostNode.of([(str(i), block) for i in range(plan.depth)], out_shape=(n, d))
    children = [("patch_embed", stem), ("gpe", gpe), ("blocks", blocks)]
    if plan.outputs == "classification":
        children.append(("norm", CostNode.leaf(P.layer_norm(d, d * n), (n, d))))
    if plan.num_classes:
        children.append(
            ("head", CostNode.leaf(P.linear(d, plan.num_classes, 1), (plan.num_classes,)))
        )
    return CostNode.of(children, own=P.param_only(d))  # the class token


def dense_resformer(plan: ResFormerPlan) -> ResFormerPlan:
    """The dense form, as ViTDet's plain backbone: the last block's grid tokens as one map (the
    class token stays in the sequence, as trained, and leaves the output); no final norm, no head.
    """
    return replace(plan, outputs="pyramid", num_classes=0)


def pyramid_resformer(plan: ResFormerPlan) -> Pyramid:
    """One stride-``patch_size`` level; a simple feature pyramid (the ``sfp`` neck) fans it out."""
    return (Level(plan.embed_dim, plan.hw, plan.patch_size),)


def latency_specs() -> tuple[ResFormerSpec, ...]:
    """Configurations whose whole networks calibrate the latency predictor: small ones, also
    timed module by module, then those of ``networks/resformer.yaml``, sized as searches draw them:
    ``Family.latency_specs``."""
    return calibration_specs(
        ResFormerSpec,
        "resformer",
        (
            dict(img_size=224, embed_dim=384, depth=2, num_heads=6),
            dict(img_size=320, embed_dim=192, depth=2, num_heads=3),
            dict(img_size=448, embed_dim=256, depth=1, num_heads=4),
            dict(img_size=512, embed_dim=384, depth=1, num_heads=6),
            dict(img_size=384, embed_dim=768, depth=1, num_heads=12),
            *network_rows("resformer"),
        ),
    )


FAMILY = Family(
    name="resformer",
    title="ResFormer",
    spec_type=ResFormerSpec,
    plan=plan_resformer,
    build=LazyCallable("hirisearch.models.resformer_nn", "build_resformer"),
    cost=cost_resformer,
    size_reason=size_reason,
    # (224, 320): a non-square grid (14 x 20 tokens)
    test_sizes=lambda spec: (spec.img_size, 384, (224, 320)),
    forward_size=lambda spec: 2 * spec.patch_size,
    latency_specs=latency_specs,
    train=LazyCallable("hirisearch.models.resformer_train", "train_resformer"),
    train_dense=True,
    dense=dense_resformer,
    pyramid=pyramid_resformer,
)
