"""HIRI-ViT: a five-stage CNN+ViT hybrid for high-resolution inputs.

T. Yao, Y. Li, Y. Pan, T. Mei, "HIRI-ViT: Scaling Vision Transformer with High Resolution Inputs",
arXiv 2403.11999, IEEE TPAMI 46(9), 2024. No official code is public and the paper's Table 1 is not
available to us, so this family is RECONSTRUCTED from the published description (see
``docs/reference/hiri_vit.md``): every choice the paper leaves open is a spec field, and the
operators are described in :mod:`hirisearch.models.hiri_vit_nn` and ``docs/families.md``.
Training-only parts (EMA distillation) are not modelled: they cost nothing at inference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import FieldError, ResolutionError
from hirisearch.layers.conv import conv_norm_act_cost
from hirisearch.layers.hr_block import hr_block_cost
from hirisearch.layers.irds import irds_cost
from hirisearch.layers.norm_act import ActKind, NormKind, norm_cost
from hirisearch.layers.transformer import class_block_cost, transformer_block_cost
from hirisearch.lazy import LazyCallable
from hirisearch.limits import MAX_BLOCKS, MAX_IMG_SIZE, MAX_RATIO, MAX_WIDTH
from hirisearch.models.base import Family, SpecBase, img_size_field, per_block, stage_blocks
from hirisearch.models.resolution import Size, as_hw, axis_reason, check_resolution, size_label
from hirisearch.tasks.pyramid import Level, Pyramid

BlockType = Literal["hr", "transformer"]
Hw = tuple[int, int]

#: Input sizes are multiples of SIZE_MULTIPLE (stage 4 runs at stride 32; stage 5 rounds up).
SIZE_MULTIPLE, MIN_SIZE = 32, 64


# ----------------------------------------------------------------------------------------- spec
class HiriViTSpec(SpecBase):
    """A HIRI-ViT configuration. Per-stage lists are indexed stage 1..N (0-based in field paths)."""

    family: Literal["hiri_vit"]
    img_size: img_size_field(MAX_IMG_SIZE) = 448  # type: ignore[valid-type]
    in_chans: int = Field(3, ge=1, le=MAX_WIDTH)
    num_classes: int = Field(1000, ge=0, le=MAX_WIDTH)
    stem_type: Literal["hr", "conv"] = "hr"
    stem_chs: int = Field(32, ge=1, le=MAX_WIDTH)
    stem_lr_convs: int = Field(2, ge=1, le=MAX_BLOCKS)
    block_types: tuple[BlockType, ...] = Field(min_length=1)
    depths: tuple[int, ...] = Field(min_length=1)
    dims: tuple[int, ...] = Field(min_length=1)
    #: Per stage: one number for every block, or a list with one per block.
    num_heads: tuple[int | tuple[int, ...], ...] = Field(min_length=1)
    mlp_ratios: tuple[float | tuple[float, ...], ...] = Field(min_length=1)
    sr_ratios: tuple[int, ...] = Field(min_length=1)
    hr_cffn: Literal["full", "low_res"] = "full"
    downsample: Literal["irds_a", "irds_b"] = "irds_b"
    downsample_ratio: float = Field(4.0, gt=0, le=MAX_RATIO)
    conv_norm: NormKind = "bn"
    token_norm: NormKind = "ln"
    act: ActKind = "gelu"
    qkv_bias: bool = True
    head: Literal["avg", "class_attn"] = "avg"
    head_mlp_ratio: float = Field(4.0, gt=0, le=MAX_RATIO)
    drop_path_rate: float = Field(0.0, ge=0, lt=1)
    #: Dense form (under a task head): the stages whose maps it outputs (none: the last four,
    #: the stages of the four-stage backbone HIRI-ViT upgrades, as many as FPN and UperNet
    #: take) and the norm on each (the paper's detection code is not public: per-output
    #: LayerNorm, as mmdetection's Swin backbone).
    out_indices: tuple[int, ...] | None = None
    out_norm: NormKind | Literal["none"] = "ln"

    @model_validator(mode="after")
    def _check(self) -> HiriViTSpec:
        n = len(self.depths)
        for field in ("block_types", "dims", "num_heads", "mlp_ratios", "sr_ratios"):
            values = getattr(self, field)
            if len(values) != n:
                raise FieldError(
                    field,
                    f"`len({field}) == len(depths)` must hold, but got "
                    f"depths={self.depths}, {field}={values}",
                )
        for i in range(n):
            if not 1 <= self.depths[i] <= MAX_BLOCKS:
                raise FieldError(
                    f"depths[{i}]", f"must be >= 1 and <= {MAX_BLOCKS}, but got {self.depths[i]}"
                )
            if not 1 <= self.dims[i] <= MAX_WIDTH:
                raise FieldError(
                    f"dims[{i}]", f"must be >= 1 and <= {MAX_WIDTH}, but got {self.dims[i]}"
                )
            for at, num_heads, ratio in self._blocks(i):
                self._check_block(i, at, num_heads, ratio)
            if not 1 <= self.sr_ratios[i] <= MAX_IMG_SIZE:
                raise FieldError(
                    f"sr_ratios[{i}]",
                    f"must be >= 1 and <= {MAX_IMG_SIZE}, but got {self.sr_ratios[i]}",
                )
            if self.block_types[i] != "transformer" and self.sr_ratios[i] != 1:
                raise FieldError(
                    f"sr_ratios[{i}]",
                    f"key/value reduction applies to transformer stages only; stage {i + 1} is "
                    f"'hr', so sr_ratios[{i}] must be 1, but got {self.sr_ratios[i]}",
                )
        if sum(self.depths) > MAX_BLOCKS:
            raise FieldError(
                "depths",
                f"`sum(depths) <= {MAX_BLOCKS}` must hold (blocks in the whole model), but got "
                f"{sum(self.depths)}",
            )
        if int(self.dims[-1] * self.head_mlp_ratio) < 1:
            raise FieldError(
                "head_mlp_ratio",
                f"`int(dims[-1] * head_mlp_ratio) >= 1` must hold, but got "
                f"head_mlp_ratio={self.head_mlp_ratio}, dims[-1]={self.dims[-1]}",
            )
        outs = self.out_indices
        if outs is not None and (not outs or list(outs) != sorted(set(outs)) or outs[-1] >= n):
            raise FieldError(
                "out_indices", f"must be increasing stage indices in [0, {n}), but got {list(outs)}"
            )
        if self.head == "class_attn":
            num_heads, dim = per_block(self.num_heads[-1], self.depths[-1])[-1], self.dims[-1]
            if num_heads < 1 or dim % num_heads:
                raise FieldError(
                    "head",
                    f"the class-attention head uses num_heads[-1]; `dims[-1] % num_heads[-1] == 0` "
                    f"must hold, but got dims[-1]={dim}, num_heads[-1]={num_heads}",
                )
        return self

    def _blocks(self, i: int) -> list[tuple[tuple[str, str], int, float]]:
        """Stage ``i``'s blocks: the field paths of their heads and FFN ratio, and the values."""
        depth, entries = self.depths[i], (("num_heads", self.num_heads[i]),
                                          ("mlp_ratios", self.mlp_ratios[i]))  # fmt: skip
        for f, v in entries:
            if isinstance(v, tuple) and len(v) != depth:
                raise FieldError(
                    f"{f}[{i}]", f"a per-block list has one value per block: `len({f}[{i}]) == "
                    f"depths[{i}]` must hold, but got depths[{i}]={depth}, {f}[{i}]={list(v)}",
                )  # fmt: skip
        at = [[f"{f}[{i}]" + (f"[{j}]" if isinstance(v, tuple) else "") for f, v in entries]
              for j in range(depth)]  # fmt: skip
        values = [per_block(v, depth) for _, v in entries]
        return [((a[0], a[1]), h, r) for a, h, r in zip(at, *values, strict=True)]

    def _check_block(self, i: int, at: tuple[str, str], heads: int, ratio: float) -> None:
        dim, (h, r) = self.dims[i], at
        if not 0 <= heads <= dim:
            raise FieldError(
                h, f"`0 <= {h} <= dims[{i}]` must hold, but got {h}={heads}, dims[{i}]={dim}"
            )
        if not 0 < ratio <= MAX_RATIO or int(dim * ratio) < 1:
            raise FieldError(
                r, f"must be > 0 and <= {MAX_RATIO:g} with a hidden width `int(dims[{i}] * {r}) "
                f">= 1`, but got {r}={ratio}, dims[{i}]={dim}",
            )  # fmt: skip
        if self.block_types[i] == "transformer" and (heads < 1 or dim % heads):
            raise FieldError(
                h, f"`dims[{i}] % {h} == 0` with {h} >= 1 must hold, but got dims[{i}]={dim}, "
                f"{h}={heads}",
            )  # fmt: skip


# ----------------------------------------------------------------------------------------- plan
@dataclass(frozen=True, slots=True)
class StemPlan:
    stem_type: str
    in_chans: int
    stem_chs: int
    out_chs: int
    lr_convs: int
    norm: NormKind
    token_norm: NormKind
    act: ActKind
    hw: Hw


@dataclass(frozen=True, slots=True)
class DownsamplePlan:
    in_chs: int
    out_chs: int
    hidden: int
    variant: str
    norm: NormKind
    act: ActKind
    hw: Hw


@dataclass(frozen=True, slots=True)
class StagePlan:
    block_type: BlockType
    depth: int
    dim: int
    num_heads: tuple[int, ...]  # of each block
    mlp_ratios: tuple[float, ...]  # of each block
    sr_ratio: int
    hw: Hw
    downsample: DownsamplePlan | None
    drop_path: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class HeadPlan:
    head_type: str
    dim: int
    num_heads: int
    mlp_ratio: float
    num_classes: int
    hw: Hw


@dataclass(frozen=True, slots=True)
class HiriViTPlan:
    name: str
    family: str
    img_size: Hw
    in_chans: int
    stem: StemPlan
    stages: tuple[StagePlan, ...]
    head: HeadPlan
    hr_cffn: str
    conv_norm: NormKind
    token_norm: NormKind
    act: ActKind
    qkv_bias: bool
    out_indices: tuple[int, ...] = ()  # of the dense form
    out_norm: NormKind | Literal["none"] = "ln"
    outputs: Literal["classification", "pyramid"] = "classification"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.img_size)

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        stages = tuple((f"stage{i + 1}", f"stages.{i}") for i in range(len(self.stages)))
        if self.outputs == "pyramid":
            return (("stem", "stem"), *stages, *((n, n) for n in self.out_norms))
        return (("stem", "stem"), *stages, ("head", "head"))

    @property
    def out_norms(self) -> tuple[str, ...]:
        """Module names of the dense form's per-output norms."""
        return () if self.out_norm == "none" else tuple(f"norm{i}" for i in self.out_indices)


def _hw(shape: tuple[int, ...]) -> Hw:
    """(height, width) of a (channels, height, width) shape."""
    return (shape[-2], shape[-1])


def _half(hw: Hw) -> Hw:
    """Map size after a stride-2 layer with 'same' padding (rounds up)."""
    return ((hw[0] + 1) // 2, (hw[1] + 1) // 2)


def size_reason(spec: HiriViTSpec, hw: Size) -> str | None:
    """Why HIRI-ViT cannot take ``hw`` (``None``: it can): per axis, the same for every spec."""
    bad = f"not a multiple of {SIZE_MULTIPLE} and >= {MIN_SIZE}"
    return axis_reason(as_hw(hw), lambda s: bad if s < MIN_SIZE or s % SIZE_MULTIPLE else None)


def plan_hiri_vit(spec: HiriViTSpec, img_size: Size | None = None) -> HiriViTPlan:
    """Derive every size of the model at ``img_size`` (``(height, width)``; default: spec's)."""
    size = as_hw(spec.img_size if img_size is None else img_size)
    if max(size) > MAX_IMG_SIZE:
        raise ResolutionError(
            f"input size must be <= {MAX_IMG_SIZE}, but got {size_label(size)}", field="img_size"
        )
    check_resolution(
        lambda s: size_reason(spec, s),
        size,
        model="HIRI-ViT",
        step=SIZE_MULTIPLE,
        rule=f"are multiples of {SIZE_MULTIPLE} and >= {MIN_SIZE} (stage 4 runs at stride 32)",
    )
    stem_hw = size
    hw = _half(_half(stem_hw))
    total_depth = sum(spec.depths)
    rates = [spec.drop_path_rate * i / max(total_depth - 1, 1) for i in range(total_depth)]
    stages = []
    prev_dim = spec.dims[0]
    for i, depth in enumerate(spec.depths):
        dim = spec.dims[i]
        down = None
        if i > 0:
            down = DownsamplePlan(
                in_chs=prev_dim,
                out_chs=dim,
                hidden=max(1, round(prev_dim * spec.downsample_ratio)),
                variant=spec.downsample,
                norm=spec.conv_norm,
                act=spec.act,
                hw=hw,
            )
            hw = _half(hw)
        if spec.sr_ratios[i] > min(hw):
            raise ResolutionError(
                f"stage {i + 1} runs at {hw[0]}x{hw[1]} at input {size_label(size)}, smaller than its key/value "
                f"reduction sr_ratios[{i}]={spec.sr_ratios[i]}; use a larger input or a smaller ratio",
                field=f"sr_ratios[{i}]",
            )
        start = sum(spec.depths[:i])
        stages.append(
            StagePlan(
                block_type=spec.block_types[i],
                depth=depth,
                dim=dim,
                num_heads=per_block(spec.num_heads[i], depth),
                mlp_ratios=per_block(spec.mlp_ratios[i], depth),
                sr_ratio=spec.sr_ratios[i],
                hw=hw,
                downsample=down,
                drop_path=tuple(rates[start : start + depth]),
            )
        )
        prev_dim = dim
    heads = stages[-1].num_heads[-1]  # the class-attention head's: the last block's
    return HiriViTPlan(
        name=spec.name,
        family="hiri_vit",
        img_size=size,
        in_chans=spec.in_chans,
        stem=StemPlan(
            spec.stem_type,
            spec.in_chans,
            spec.stem_chs,
            spec.dims[0],
            spec.stem_lr_convs,
            spec.conv_norm,
            spec.token_norm,
            spec.act,
            stem_hw,
        ),
        stages=tuple(stages),
        head=HeadPlan(spec.head, spec.dims[-1], heads, spec.head_mlp_ratio, spec.num_classes, hw),
        hr_cffn=spec.hr_cffn,
        conv_norm=spec.conv_norm,
        token_norm=spec.token_norm,
        act=spec.act,
        qkv_bias=spec.qkv_bias,
        out_indices=spec.out_indices or tuple(range(len(stages)))[-4:],
        out_norm=spec.out_norm,
    )


# --------------------------------------------------------------------------------- HR-stem
@lru_cache(maxsize=1024)
def hr_stem_cost(p: StemPlan) -> CostNode:
    """Cost twin of :class:`HRStem`."""
    cm, c = p.stem_chs, p.out_chs
    conv = conv_norm_act_cost(p.in_chans, cm, 3, 2, norm=p.norm, act=p.act, hw=p.hw)
    mid = _hw(conv.out_shape)
    dw = conv_norm_act_cost(cm, cm, 3, 2, groups=cm, norm=p.norm, hw=mid)
    hr = CostNode.of(
        [("0", dw), ("1", conv_norm_act_cost(cm, c, 1, norm=p.norm, hw=_hw(dw.out_shape)))]
    )
    first = conv_norm_act_cost(
        cm, c, 3, 2, norm=p.norm, act=p.act if p.lr_convs > 1 else None, hw=mid
    )
    lr = [("0", first)]
    for j in range(1, p.lr_convs):
        act = None if j == p.lr_convs - 1 else p.act
        lr.append(
            (str(j), conv_norm_act_cost(c, c, 3, norm=p.norm, act=act, hw=_hw(first.out_shape)))
        )
    return CostNode.of([("conv", conv), ("hr", hr), ("lr", CostNode.of(lr))])


@lru_cache(maxsize=1024)
def conv_stem_cost(p: StemPlan) -> CostNode:
    """Cost twin of :class:`ConvStem`."""
    cm, c = p.stem_chs, p.out_chs
    c0 = conv_norm_act_cost(p.in_chans, cm, 7, 2, norm=p.norm, act=p.act, hw=p.hw)
    mid = _hw(c0.out_shape)
    c1 = conv_norm_act_cost(cm, cm, 3, norm=p.norm, act=p.act, hw=mid)
    out_hw = _half(mid)
    shape = (c, *out_hw)
    return CostNode.of(
        [
            ("conv", CostNode.of([("0", c0), ("1", c1), ("2", c1)])),
            ("proj", CostNode.leaf(P.conv2d(cm, c, 3, out_hw, bias=True), shape)),
            ("norm", CostNode.leaf(norm_cost(p.token_norm, c, c * out_hw[0] * out_hw[1]), shape)),
        ]
    )


# --------------------------------------------------------------------------------- stages
def _cost_key(plan: HiriViTPlan) -> StageCostKey:
    return StageCostKey(plan.hr_cffn, plan.conv_norm, plan.token_norm, plan.act, plan.qkv_bias)


@dataclass(frozen=True, slots=True)
class StageCostKey:
    """The model-wide plan fields a stage's cost depends on (the cache key beside the stage)."""

    hr_cffn: str
    conv_norm: NormKind
    token_norm: NormKind
    act: ActKind
    qkv_bias: bool


@lru_cache(maxsize=8192)
def _block_cost_of(p: StagePlan, heads: int, ratio: float, plan: StageCostKey) -> CostNode:
    if p.block_type == "transformer":
        return transformer_block_cost(p.dim, heads, mlp_ratio=ratio, sr_ratio=p.sr_ratio,
            qkv_bias=plan.qkv_bias, norm=plan.token_norm, act=plan.act, hw=p.hw)  # fmt: skip
    return hr_block_cost(p.dim, mlp_ratio=ratio, cffn=plan.hr_cffn, norm=plan.conv_norm,
                         act=plan.act, hw=p.hw)  # fmt: skip


@lru_cache(maxsize=8192)
def _stage_cost_of(p: StagePlan, plan: StageCostKey) -> CostNode:
    """Cached by stage: a search re-costs the same stage in many candidates (and blocks of the
    same heads and FFN ratio share one node)."""
    nodes = [_block_cost_of(p, h, r, plan) for h, r in zip(p.num_heads, p.mlp_ratios, strict=True)]
    shape = (p.dim, *p.hw)
    blocks = CostNode.of([(str(i), b) for i, b in enumerate(nodes)], out_shape=shape)
    d = p.downsample
    children = []
    if d is not None:
        irds = irds_cost(
            d.in_chs, d.out_chs, hidden=d.hidden, variant=d.variant, norm=d.norm, act=d.act,
            hw=d.hw,
        )  # fmt: skip
        children.append(("downsample", irds))
    children.append(("blocks", blocks))
    return CostNode.of(children, out_shape=shape)


# ----------------------------------------------------------------------------------- head
@lru_cache(maxsize=4096)
def _head_cost_of(p: HeadPlan, plan: StageCostKey) -> CostNode:
    children = []
    own = Cost()
    if p.head_type == "class_attn":
        own = P.param_only(p.dim)
        tokens = p.hw[0] * p.hw[1] + 1
        block = class_block_cost(p.dim, p.num_heads, mlp_ratio=p.mlp_ratio,
            qkv_bias=plan.qkv_bias, norm=plan.token_norm, act=plan.act, tokens=tokens)  # fmt: skip
        children.append(("block", block))
    children.append(("norm", CostNode.leaf(norm_cost(plan.token_norm, p.dim, p.dim))))
    if p.num_classes:
        children.append(("fc", CostNode.leaf(P.linear(p.dim, p.num_classes, 1))))
    return CostNode.of(children, own=own, out_shape=(p.num_classes or p.dim,))


# ---------------------------------------------------------------------------------- model
def cost_hiri_vit(plan: HiriViTPlan) -> CostNode:
    """Analytic cost of the model described by ``plan``, keyed by the builder's module paths."""
    stem = hr_stem_cost(plan.stem) if plan.stem.stem_type == "hr" else conv_stem_cost(plan.stem)
    key = _cost_key(plan)
    stages = CostNode.of([(str(i), _stage_cost_of(s, key)) for i, s in enumerate(plan.stages)])
    if plan.outputs == "pyramid":
        kind, outs = plan.out_norm, [plan.stages[i] for i in plan.out_indices]
        norms = [(n, CostNode.leaf(norm_cost(kind, s.dim, s.dim * s.hw[0] * s.hw[1])))
                 for n, s in zip(plan.out_norms, outs, strict=True) if kind != "none"]  # fmt: skip
        return CostNode.of([("stem", stem), ("stages", stages), *norms])
    return CostNode.of(
        [("stem", stem), ("stages", stages), ("head", _head_cost_of(plan.head, key))]
    )


def dense_hiri_vit(plan: HiriViTPlan) -> HiriViTPlan:
    """The dense form: the maps of stages ``out_indices``, each through its norm; no head."""
    return replace(plan, outputs="pyramid")


def pyramid_hiri_vit(plan: HiriViTPlan) -> Pyramid:
    """The dense form's levels: stage ``i`` runs at stride ``4 * 2**i``."""
    return tuple(Level(plan.stages[i].dim, plan.stages[i].hw, 4 << i) for i in plan.out_indices)


FAMILY = Family(
    name="hiri_vit",
    title="HIRI-ViT",
    spec_type=HiriViTSpec,
    plan=plan_hiri_vit,
    build=LazyCallable("hirisearch.models.hiri_vit_nn", "build_hiri_vit"),
    cost=cost_hiri_vit,
    size_reason=size_reason,
    test_sizes=lambda spec: (224, 448, (224, 320)),
    latency_specs=LazyCallable("hirisearch.models.hiri_vit_calibration", "latency_specs"),
    blocks=stage_blocks(("num_heads", "mlp_ratios"), "depths"),
    dense=dense_hiri_vit,
    pyramid=pyramid_hiri_vit,
    train=LazyCallable("hirisearch.models.hiri_vit_train", "train_hiri_vit"),
    train_dense=True,
)
