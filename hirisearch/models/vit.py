"""Plain Vision Transformer (ViT) and DeiT: global attention on a single token grid.

A. Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021 (arXiv 2010.11929); H. Touvron et
al., "Training data-efficient image transformers & distillation through attention" (DeiT), ICML 2021
(arXiv 2012.12877). DeiT-T/S/B are ViT architectures (the non-distilled models; the distillation
token of DeiT-distilled is not modelled). Built through timm's ``VisionTransformer``; this file owns
the spec, the plan and the analytic cost keyed by timm's module paths.

The learned position embedding is built at the requested resolution (one row per token of the
``(height / patch) x (width / patch)`` grid), so its parameter count grows with the resolution, as in
a model fine-tuned there. A side that is not a multiple of the patch is refused unless ``pad: true``
(the image is then zero-padded on that axis to the next multiple and the cost counts the padded
grid).

Detection backbones (ViTDet, Y. Li et al., "Exploring Plain Vision Transformer Backbones for Object
Detection", ECCV 2022, arXiv 2203.16527) attend inside ``window_size`` windows, every
``global_every``-th block globally (window 14 and every third block global: the ViTDet baselines of
the PIIP paper's configs). ViTDet's decomposed relative-position terms are not modelled: the
published ViTDet costs we reproduce (PIIP's baselines) do not include them. InternViT-6B is this
family with ``norm: rms``, ``qk_norm: true``, ``qkv_bias: false`` and a layer scale. These models
are built from hirisearch's own blocks (:mod:`hirisearch.layers.vit`) inside timm's
``VisionTransformer``; plain ViTs keep timm's blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import Field, model_validator

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.errors import FieldError
from hirisearch.layers.vit import TokenNorm, block_windows, token_norm_cost, vit_block_cost
from hirisearch.lazy import LazyCallable
from hirisearch.models.base import (
    Convention,
    Family,
    ImgSize,
    SpecBase,
    calibration_specs,
    network_rows,
    per_block,
    stage_blocks,
)
from hirisearch.models.piip_convention import cost_vit_repo, piip_convention_description
from hirisearch.models.resolution import Hw, Size, as_hw, axis_reason, check_resolution
from hirisearch.tasks.pyramid import Level, Pyramid


# ----------------------------------------------------------------------------------------- spec
class PlainViTFields(SpecBase):
    """Fields of every plain (patch-embedding, one-stage) ViT spec: ViT/DeiT and ResFormer."""

    img_size: ImgSize = 224
    in_chans: int = Field(3, ge=1)
    num_classes: int = Field(1000, ge=0)
    patch_size: int = Field(16, ge=1)
    embed_dim: int = Field(ge=1)
    depth: int = Field(ge=1)
    num_heads: int = Field(ge=1)
    mlp_ratio: float = Field(4.0, gt=0)
    qkv_bias: bool = True
    pad: bool = False
    drop_path_rate: float = Field(0.0, ge=0, lt=1)


class ViTSpec(PlainViTFields):
    """A ViT / DeiT configuration (timm's argument names)."""

    family: Literal["vit"]
    class_token: bool = True
    global_pool: Literal["token", "avg"] = "token"
    #: 0: global attention in every block; > 0: attention inside windows of this many tokens.
    window_size: int = Field(0, ge=0)
    #: With windows: every ``global_every``-th block (k-1, 2k-1, ...) attends globally; 0: none.
    global_every: int = Field(0, ge=0)
    #: Token norms: LayerNorm or RMSNorm (InternViT-6B).
    norm: TokenNorm = "ln"
    #: Normalise queries and keys over the full width (InternViT-6B's QK-norm).
    qk_norm: bool = False
    #: Initial value of the blocks' layer-scale vectors; ``null``: no layer scale.
    layer_scale: float | None = Field(None, gt=0)
    #: One number for every block, or a list with one per block.
    num_heads: int | tuple[int, ...]  # type: ignore[assignment]
    mlp_ratio: float | tuple[float, ...] = 4.0  # type: ignore[assignment]

    @model_validator(mode="after")
    def _check(self) -> ViTSpec:
        for field in ("num_heads", "mlp_ratio"):
            v = getattr(self, field)
            if isinstance(v, tuple) and len(v) != self.depth:
                raise FieldError(
                    field,
                    f"a per-block list has one value per block: `len({field}) == depth` must "
                    f"hold, but got depth={self.depth}, {field}={list(v)}",
                )
        for j, (h, r) in enumerate(self.blocks):
            at = f"[{j}]" if isinstance(self.num_heads, tuple) else ""
            if h < 1 or self.embed_dim % h:
                raise FieldError(
                    f"num_heads{at}",
                    f"`embed_dim % num_heads{at} == 0` must hold, but got "
                    f"embed_dim={self.embed_dim}, num_heads{at}={h}",
                )
            if not r > 0:
                raise FieldError("mlp_ratio", f"must be > 0, but got {r}")
        if self.global_pool == "token" and not self.class_token:
            raise FieldError(
                "global_pool", "`global_pool: token` needs `class_token: true`; use `avg`"
            )
        if self.window_size and self.class_token:
            raise FieldError(
                "window_size",
                "window attention takes no class token; set `class_token: false` (and "
                f"`global_pool: avg`), but got window_size={self.window_size}",
            )
        if self.global_every and not self.window_size:
            raise FieldError(
                "global_every",
                f"applies to window attention only, but got window_size=0, "
                f"global_every={self.global_every}",
            )
        return self

    @property
    def blocks(self) -> tuple[tuple[int, float], ...]:
        """Each block's heads and FFN ratio."""
        heads, ratios = per_block(self.num_heads, self.depth), per_block(self.mlp_ratio, self.depth)
        return tuple(zip(heads, ratios, strict=True))


# ----------------------------------------------------------------------------------------- plan
@dataclass(frozen=True, slots=True)
class ViTPlan:
    name: str
    family: str
    img_size: Hw  # (height, width)
    in_chans: int
    num_classes: int
    patch_size: int
    padded_img: Hw  # img_size padded to a multiple of the patch on each axis
    hw: Hw  # token grid
    tokens: int  # grid tokens plus the class token
    embed_dim: int
    depth: int
    num_heads: int  # block 0's (timm's constructor takes one)
    mlp_ratio: float  # block 0's
    blocks: tuple[tuple[int, float], ...]  # each block's heads and FFN ratio
    qkv_bias: bool
    class_token: bool
    global_pool: Literal["token", "avg"]
    drop_path_rate: float
    windows: tuple[int, ...] = ()  # per block: 0 = global attention, else the window size
    norm: TokenNorm = "ln"
    qk_norm: bool = False
    layer_scale: float | None = None
    outputs: Literal["classification", "pyramid"] = "classification"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.img_size)

    @property
    def own_blocks(self) -> bool:
        """Built from hirisearch's blocks (windows, RMSNorm or QK-norm): timm's have none."""
        return any(self.windows) or self.qk_norm or self.norm != "ln"

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        if self.outputs == "pyramid":
            return (("stem", "patch_embed"), ("blocks", "blocks"))
        norm = ("norm", "norm") if self.global_pool == "token" else ("norm", "fc_norm")
        return (("stem", "patch_embed"), ("blocks", "blocks"), norm, ("head", "head"))

    @property
    def out_grid(self) -> tuple[int, int]:
        return self.hw


def patch_reason(patch: int, pad: bool) -> Callable[[int], str | None]:
    """The resolution rule of a patch-embedding model: multiples of ``patch`` unless padding."""

    def reason(size: int) -> str | None:
        if size < patch:
            return f"smaller than the patch size {patch}"
        if size % patch and not pad:
            return f"not a multiple of the patch size {patch} (set `pad: true` to pad the image)"
        return None

    return reason


def size_reason(spec: PlainViTFields, hw: Size) -> str | None:
    """Why a plain ViT (ViT/DeiT, ResFormer) cannot take ``hw`` (``None``: it can); the rule is
    per axis."""
    return axis_reason(as_hw(hw), patch_reason(spec.patch_size, spec.pad))


def plan_vit(spec: ViTSpec, img_size: Size | None = None) -> ViTPlan:
    """Derive the token grid at ``img_size`` (``(height, width)``; default: the spec's)."""
    size = as_hw(spec.img_size if img_size is None else img_size)
    check_resolution(
        lambda s: size_reason(spec, s),
        size,
        model=f"ViT ({spec.name})",
        step=spec.patch_size,
    )
    p = spec.patch_size
    padded = (-(-size[0] // p) * p, -(-size[1] // p) * p)
    g = (padded[0] // p, padded[1] // p)
    return ViTPlan(
        name=spec.name,
        family="vit",
        img_size=size,
        in_chans=spec.in_chans,
        num_classes=spec.num_classes,
        patch_size=spec.patch_size,
        padded_img=padded,
        hw=g,
        tokens=g[0] * g[1] + int(spec.class_token),
        embed_dim=spec.embed_dim,
        depth=spec.depth,
        num_heads=spec.blocks[0][0],
        mlp_ratio=spec.blocks[0][1],
        blocks=spec.blocks,
        qkv_bias=spec.qkv_bias,
        class_token=spec.class_token,
        global_pool=spec.global_pool,
        drop_path_rate=spec.drop_path_rate,
        windows=block_windows(spec.window_size, spec.global_every, spec.depth),
        norm=spec.norm,
        qk_norm=spec.qk_norm,
        layer_scale=spec.layer_scale,
    )


# ----------------------------------------------------------------------------------------- cost
def cost_vit(plan: ViTPlan) -> CostNode:
    """Analytic cost of the model described by ``plan``, keyed by timm's module paths."""
    d, n = plan.embed_dim, plan.tokens
    stem = CostNode.of(
        [
            (
                "proj",
                CostNode.leaf(P.conv2d(plan.in_chans, d, plan.patch_size, plan.hw, bias=True)),
            )
        ],
        out_shape=(d, *plan.hw),
    )
    # one node per distinct (window, heads, FFN ratio): identical blocks share it
    kinds = {
        (ws, (h, r)): vit_block_cost(
            d,
            h,
            mlp_ratio=r,
            window_size=ws,
            qkv_bias=plan.qkv_bias,
            layer_scale=plan.layer_scale,  # timm's Block: init_values
            qk_norm=plan.qk_norm,
            norm=plan.norm,
            hw=plan.hw,
            tokens=n,
        )
        for ws, (h, r) in set(zip(plan.windows, plan.blocks, strict=True))
    }
    blocks = CostNode.of(
        [(str(i), kinds[k]) for i, k in enumerate(zip(plan.windows, plan.blocks, strict=True))],
        out_shape=(n, d),
    )
    children = [("patch_embed", stem), ("blocks", blocks)]
    if plan.outputs == "pyramid":  # the dense form: the last block's tokens, no final norm
        pass
    elif plan.global_pool == "token":
        children.append(("norm", CostNode.leaf(token_norm_cost(plan.norm, d, d * n), (n, d))))
    else:
        children.append(("fc_norm", CostNode.leaf(token_norm_cost(plan.norm, d, d), (d,))))
    if plan.num_classes:
        children.append(
            ("head", CostNode.leaf(P.linear(d, plan.num_classes, 1), (plan.num_classes,)))
        )
    own = P.param_only(d * int(plan.class_token) + n * d)  # class token, position embedding
    return CostNode.of(children, own=own)


def dense_vit(plan: ViTPlan) -> ViTPlan:
    """The dense form (ViTDet's backbone): the last block's grid tokens as one map; no final norm,
    no head (the class token, if any, stays in the sequence and leaves the output)."""
    return replace(plan, outputs="pyramid", num_classes=0)


def pyramid_vit(plan: ViTPlan) -> Pyramid:
    """One stride-``patch_size`` level; ViTDet's simple feature pyramid is a neck (``sfp``)."""
    return (Level(plan.embed_dim, plan.hw, plan.patch_size),)


def latency_specs() -> tuple[ViTSpec, ...]:
    """Configurations whose whole networks calibrate the latency predictor: small ones, also
    timed module by module, then those of ``networks/vit.yaml``, sized as searches draw them:
    ``Family.latency_specs``."""
    return calibration_specs(
        ViTSpec,
        "vit",
        (
            dict(img_size=224, embed_dim=192, depth=2, num_heads=3),
            dict(img_size=384, embed_dim=384, depth=2, num_heads=6),
            dict(img_size=512, embed_dim=256, depth=1, num_heads=4),
            dict(img_size=320, embed_dim=768, depth=1, num_heads=12),
            dict(img_size=448, embed_dim=384, depth=1, num_heads=6),
            *network_rows("vit"),
        ),
    )


def _non_square(spec: ViTSpec) -> Hw:
    """A non-square test size: 14 x 20 patches (224 x 320 at patch 16)."""
    return (14 * spec.patch_size, 20 * spec.patch_size)


FAMILY = Family(
    name="vit",
    title="ViT / DeiT",
    spec_type=ViTSpec,
    plan=plan_vit,
    build=LazyCallable("hirisearch.models.vit_nn", "build_vit"),
    cost=cost_vit,
    size_reason=size_reason,
    test_sizes=lambda spec: (spec.img_size, 384, _non_square(spec)),
    forward_size=lambda spec: 2 * spec.patch_size,
    conventions=(Convention("piip", piip_convention_description(), cost_vit_repo, shown=False),),
    latency_specs=latency_specs,
    blocks=stage_blocks(("num_heads", "mlp_ratio"), "depth"),
    train=LazyCallable("hirisearch.models.vit_train", "train_vit"),
    train_dense=True,
    dense=dense_vit,
    pyramid=pyramid_vit,
)
