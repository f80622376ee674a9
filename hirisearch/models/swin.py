"""Swin Transformer: hierarchical ViT with shifted-window attention.

Z. Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows", ICCV 2021,
arXiv 2103.14030 (microsoft/Swin-Transformer). Built through timm's ``SwinTransformer`` (the
reference implementation the published counts are reproduced with); this file owns the spec, the
plan (every stage grid, window, shift and padding) and the analytic cost, keyed by timm's module
paths so that the parity tests hold the two together.

Window rule (``window_rule``): ``follow`` scales the window with the resolution, as the paper's
fine-tuned models do (``window_size`` is the window at the spec's ``img_size``: 7 at 224 gives 12 at
384), on each axis (7 at 224 gives a 25 x 40 window at 800 x 1280); ``fixed`` keeps ``window_size``
at every resolution. Every rule holds per axis, as in timm's ``SwinTransformerBlock``: an axis of a
stage grid not larger than the window is one window along it and is not shifted (so a window may be
rectangular). A resolution whose stage grids are not multiples of the window is refused unless
``pad: true``; then the image is padded to a multiple of the patch, each stage grid to a multiple of
its window on each axis, odd grids before patch merging (timm's behaviour), and the cost counts the
padded sizes (Swin-B with window 7 at 384: 50.1 GFLOPs instead of 47.1 with window 12).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import Field, model_validator

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.errors import FieldError
from hirisearch.layers.vit import prenorm_block_cost
from hirisearch.lazy import LazyCallable
from hirisearch.models.base import (
    Family,
    ImgSize,
    SpecBase,
    calibration_specs,
    network_rows,
    per_block,
    stage_blocks,
)
from hirisearch.models.resolution import AXES, Size, as_hw, check_resolution, size_label
from hirisearch.tasks.pyramid import Level

Hw = tuple[int, int]


# ----------------------------------------------------------------------------------------- spec
class SwinSpec(SpecBase):
    """A Swin Transformer configuration (timm's argument names)."""

    family: Literal["swin"]
    img_size: ImgSize = 224
    in_chans: int = Field(3, ge=1)
    num_classes: int = Field(1000, ge=0)
    patch_size: int = Field(4, ge=1)
    embed_dim: int = Field(96, ge=1)
    depths: tuple[int, ...] = Field(min_length=1)
    #: Per stage: one number for every block, or a list with one per block.
    num_heads: tuple[int | tuple[int, ...], ...] = Field(min_length=1)
    window_size: int = Field(7, ge=1)
    window_rule: Literal["follow", "fixed"] = "follow"
    #: One number for every block, or one per stage (each a number or one per block).
    mlp_ratio: float | tuple[float | tuple[float, ...], ...] = 4.0
    qkv_bias: bool = True
    pad: bool = False
    drop_path_rate: float = Field(0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> SwinSpec:
        if len(self.num_heads) != len(self.depths):
            raise FieldError(
                "num_heads",
                f"`len(num_heads) == len(depths)` must hold, but got depths={self.depths}, "
                f"num_heads={self.num_heads}",
            )
        if isinstance(self.mlp_ratio, tuple) and len(self.mlp_ratio) != len(self.depths):
            raise FieldError(
                "mlp_ratio",
                f"one number, or one per stage: `len(mlp_ratio) == len(depths)` must hold, but "
                f"got depths={self.depths}, mlp_ratio={self.mlp_ratio}",
            )
        for i, d in enumerate(self.depths):
            if d < 1:
                raise FieldError(f"depths[{i}]", f"must be >= 1, but got {d}")
            dim = self.embed_dim * 2**i
            for j, (h, r) in enumerate(self.blocks_of(i)):
                at = f"[{i}][{j}]" if isinstance(self.num_heads[i], tuple) else f"[{i}]"
                if h < 1 or dim % h:
                    raise FieldError(
                        f"num_heads{at}",
                        f"`embed_dim * 2**{i} % num_heads{at} == 0` must hold, but got "
                        f"embed_dim * 2**{i}={dim}, num_heads{at}={h}",
                    )
                if not r > 0 or int(dim * r) < 1:
                    raise FieldError(
                        "mlp_ratio", f"must be > 0 with `int(dim * mlp_ratio) >= 1`, but got {r}"
                    )
        return self

    def blocks_of(self, i: int) -> tuple[tuple[int, float], ...]:
        """Stage ``i``'s blocks' heads and FFN ratio (a per-block list has one per block)."""
        depth, ratio = self.depths[i], self.mlp_ratio
        ratio = ratio[i] if isinstance(ratio, tuple) else ratio
        for field, v in (("num_heads", self.num_heads[i]), ("mlp_ratio", ratio)):
            if isinstance(v, tuple) and len(v) != depth:
                raise FieldError(
                    f"{field}[{i}]",
                    f"a per-block list has one value per block: `len({field}[{i}]) == "
                    f"depths[{i}]` must hold, but got depths[{i}]={depth}, {field}[{i}]={list(v)}",
                )
        return tuple(zip(per_block(self.num_heads[i], depth), per_block(ratio, depth), strict=True))


# ----------------------------------------------------------------------------------------- plan
@dataclass(frozen=True, slots=True)
class SwinStagePlan:
    in_dim: int
    dim: int
    depth: int
    num_heads: int  # block 0's (timm's constructor takes one per stage)
    blocks: tuple[tuple[int, float], ...]  # each block's heads and FFN ratio
    hw: Hw  # token grid of the stage (after merging)
    merge_hw: Hw | None  # padded grid entering patch merging (None in stage 1)
    window: Hw  # (height, width) of a window: the target window, clamped to the grid per axis
    shift: Hw  # the shift of every second block, per axis (0 where one window spans the axis)
    padded_hw: Hw  # grid padded to a multiple of the window on each axis

    @property
    def window_area(self) -> int:
        return self.window[0] * self.window[1]


@dataclass(frozen=True, slots=True)
class SwinPlan:
    name: str
    family: str
    img_size: Hw  # (height, width)
    in_chans: int
    num_classes: int
    patch_size: int
    embed_dim: int
    padded_img: Hw  # input size after padding to a multiple of the patch on each axis
    window_size: Hw  # window before per-stage clamping
    mlp_ratio: float  # of the first block (timm's constructor takes one)
    qkv_bias: bool
    drop_path_rate: float
    stages: tuple[SwinStagePlan, ...]
    #: ``pyramid``: the dense form (mmdet/mmseg's backbone): every stage's output through a
    #: LayerNorm of its own (``norm0``..), no final norm, no classifier.
    outputs: Literal["classification", "pyramid"] = "classification"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.img_size)

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        stages = tuple((f"stage{i + 1}", f"layers.{i}") for i in range(len(self.stages)))
        if self.outputs == "pyramid":
            norms = tuple((f"norm{i}", f"norm{i}") for i in range(len(self.stages)))
            return (("stem", "patch_embed"), *stages, *norms)
        return (("stem", "patch_embed"), *stages, ("norm", "norm"), ("head", "head"))

    @property
    def out_grid(self) -> Hw:
        return self.stages[-1].hw


def _ceil_to(x: int, m: int) -> int:
    return -(-x // m) * m


def _axis(hw: Hw, i: int) -> str:
    """``""`` for a square size (its words as they always were), else ``"width "``."""
    return "" if hw[0] == hw[1] else f"{AXES[i]} "


def _window_at(spec: SwinSpec, size: Hw) -> tuple[Hw | None, str | None]:
    """The target window at ``size``: the spec's, or (``follow``) scaled on each axis."""
    if spec.window_rule == "fixed":
        return (spec.window_size, spec.window_size), None
    ref = as_hw(spec.img_size)
    window = []
    for i in range(2):
        num = spec.window_size * size[i]
        if num % ref[i]:
            return None, (
                f"the window follows the resolution ({spec.window_size} at "
                f"{size_label(spec.img_size)}) and {_axis(size, i)}{spec.window_size} * "
                f"{size[i]} / {ref[i]} is not an integer"
            )
        window.append(num // ref[i])
    return (window[0], window[1]), None


def _stages(spec: SwinSpec, size: Hw) -> tuple[tuple[SwinStagePlan, ...] | None, str | None]:
    """Stage geometry at ``size``, or the reason the size is refused."""
    target, why = _window_at(spec, size)
    if target is None:
        return None, why
    for i in range(2):
        if size[i] % spec.patch_size and not spec.pad:
            return None, f"{_axis(size, i)}not a multiple of the patch size {spec.patch_size}"
    hw = (
        _ceil_to(size[0], spec.patch_size) // spec.patch_size,
        _ceil_to(size[1], spec.patch_size) // spec.patch_size,
    )
    stages = []
    for i, depth in enumerate(spec.depths):
        blocks = spec.blocks_of(i)
        merge_hw = None
        if i > 0:
            if (hw[0] % 2 or hw[1] % 2) and not spec.pad:
                return None, f"stage {i + 1} would merge an odd {hw[0]}x{hw[1]} grid"
            merge_hw = (_ceil_to(hw[0], 2), _ceil_to(hw[1], 2))
            hw = (merge_hw[0] // 2, merge_hw[1] // 2)
        # timm, per axis: an axis not larger than the window is one window along it, no shift
        w = (min(target[0], hw[0]), min(target[1], hw[1]))
        shift = tuple(0 if hw[a] <= target[a] else target[a] // 2 for a in range(2))
        if (hw[0] % w[0] or hw[1] % w[1]) and not spec.pad:
            shown = w[0] if w[0] == w[1] else f"{w[0]}x{w[1]}"
            return None, (
                f"stage {i + 1} grid {hw[0]}x{hw[1]} is not a multiple of the window {shown} "
                "(set `pad: true` to pad windows as timm does)"
            )
        stages.append(
            SwinStagePlan(
                in_dim=spec.embed_dim * 2 ** max(i - 1, 0),
                dim=spec.embed_dim * 2**i,
                depth=depth,
                num_heads=blocks[0][0],
                blocks=blocks,
                hw=hw,
                merge_hw=merge_hw,
                window=w,
                shift=shift,  # type: ignore[arg-type]
                padded_hw=(_ceil_to(hw[0], w[0]), _ceil_to(hw[1], w[1])),
            )
        )
    return tuple(stages), None


def size_reason(spec: SwinSpec, hw: Size) -> str | None:
    """Why Swin cannot take ``hw`` (``None``: it can): the window rule and the stage grids, on
    each axis."""
    return _stages(spec, as_hw(hw))[1]


def plan_swin(spec: SwinSpec, img_size: Size | None = None) -> SwinPlan:
    """Derive every stage grid, window, shift and padding at ``img_size`` (``(height, width)``;
    default: the spec's)."""
    size = as_hw(spec.img_size if img_size is None else img_size)
    stages, _ = _stages(spec, size)
    window, _ = _window_at(spec, size)
    if stages is None or window is None:
        check_resolution(
            lambda s: size_reason(spec, s), size, model=f"Swin ({spec.name})", step=spec.patch_size
        )
        raise AssertionError("unreachable: check_resolution raises for a refused size")
    return SwinPlan(
        name=spec.name,
        family="swin",
        img_size=size,
        in_chans=spec.in_chans,
        num_classes=spec.num_classes,
        patch_size=spec.patch_size,
        embed_dim=spec.embed_dim,
        padded_img=(_ceil_to(size[0], spec.patch_size), _ceil_to(size[1], spec.patch_size)),
        window_size=window,
        mlp_ratio=stages[0].blocks[0][1],
        qkv_bias=spec.qkv_bias,
        drop_path_rate=spec.drop_path_rate,
        stages=stages,
    )


# ----------------------------------------------------------------------------------------- cost
def _area(hw: Hw) -> int:
    return hw[0] * hw[1]


def _block_cost(s: SwinStagePlan, num_heads: int, mlp_ratio: float, qkv_bias: bool) -> CostNode:
    dim, n, np_ = s.dim, _area(s.hw), _area(s.padded_hw)
    area = s.window_area
    windows = np_ // area
    table = (2 * s.window[0] - 1) * (2 * s.window[1] - 1) * num_heads  # relative position bias
    attn = CostNode.of(
        [
            ("qkv", CostNode.leaf(P.linear(dim, 3 * dim, np_, bias=qkv_bias))),
            ("proj", CostNode.leaf(P.linear(dim, dim, np_))),
        ],
        own=P.param_only(table) + P.attention(num_heads * windows, area, area, dim // num_heads),
        out_shape=(n, dim),
    )
    return prenorm_block_cost(dim, attn, tokens=n, mlp_ratio=mlp_ratio, out_shape=(*s.hw, dim))


def _stage_cost(s: SwinStagePlan, plan: SwinPlan) -> CostNode:
    children = []
    if s.merge_hw is not None:
        c4 = 4 * s.in_dim
        n = _area(s.hw)
        children.append(
            (
                "downsample",
                CostNode.of(
                    [
                        ("norm", CostNode.leaf(P.layer_norm(c4, c4 * n))),
                        ("reduction", CostNode.leaf(P.linear(c4, s.dim, n, bias=False))),
                    ]
                ),
            )
        )
    nodes = {b: _block_cost(s, *b, plan.qkv_bias) for b in set(s.blocks)}  # one per kind
    children.append(("blocks", CostNode.of([(str(j), nodes[b]) for j, b in enumerate(s.blocks)])))
    return CostNode.of(children, out_shape=(s.dim, *s.hw))


def cost_swin(plan: SwinPlan) -> CostNode:
    """Analytic cost of the model described by ``plan``, keyed by timm's module paths."""
    c0, grid = plan.embed_dim, plan.stages[0].hw
    stem = CostNode.of(
        [
            ("proj", CostNode.leaf(P.conv2d(plan.in_chans, c0, plan.patch_size, grid, bias=True))),
            ("norm", CostNode.leaf(P.layer_norm(c0, c0 * _area(grid)))),
        ],
        out_shape=(c0, *grid),
    )
    stages = CostNode.of([(str(i), _stage_cost(s, plan)) for i, s in enumerate(plan.stages)])
    if plan.outputs == "pyramid":
        norms = [
            (f"norm{i}", CostNode.leaf(P.layer_norm(s.dim, s.dim * _area(s.hw)), (s.dim, *s.hw)))
            for i, s in enumerate(plan.stages)
        ]
        return CostNode.of([("patch_embed", stem), ("layers", stages), *norms])
    last = plan.stages[-1]
    norm = CostNode.leaf(P.layer_norm(last.dim, last.dim * _area(last.hw)), (last.dim, *last.hw))
    fc_layers = []
    if plan.num_classes:
        fc = CostNode.leaf(P.linear(last.dim, plan.num_classes, 1), (plan.num_classes,))
        fc_layers.append(("fc", fc))
    head = CostNode.of(fc_layers, out_shape=(plan.num_classes or last.dim,))
    return CostNode.of(
        [("patch_embed", stem), ("layers", stages), ("norm", norm), ("head", head)],
        out_shape=head.out_shape,
    )


def dense_spec(spec: SwinSpec) -> SwinSpec:
    """mmdet/mmseg's Swin backbone sizes as the spec's windows at any input: the window fixed at
    ``window_size``, the image padded to the patch and every stage grid to its window."""
    return spec.model_copy(update={"window_rule": "fixed", "pad": True, "num_classes": 0})


def dense_plan(plan: SwinPlan) -> SwinPlan:
    """The dense form of ``plan``: every stage's output, each through its own LayerNorm."""
    return replace(plan, num_classes=0, outputs="pyramid")


def pyramid(plan: SwinPlan) -> tuple[Level, ...]:
    """The dense form's levels: stage ``i`` at stride ``patch_size * 2**i``."""
    return tuple(Level(s.dim, s.hw, plan.patch_size * 2**i) for i, s in enumerate(plan.stages))


def _test_sizes(spec: SwinSpec) -> tuple[Size, ...]:
    """The spec's size, 384 where the window follows it, and a non-square size: 224 x 320 with
    the window following (a 7 x 10 window from 7 at 224), 1.5 times the width otherwise."""
    if spec.window_rule == "follow":
        return (spec.img_size, 384, (224, 320))
    h, w = as_hw(spec.img_size)
    return (spec.img_size, (h, w * 3 // 2))


def latency_specs() -> tuple[SwinSpec, ...]:
    """Configurations whose whole networks calibrate the latency predictor: small ones, also
    timed module by module, then those of ``networks/swin.yaml``, sized as searches draw them:
    ``Family.latency_specs``."""
    return calibration_specs(
        SwinSpec,
        "swin",
        (
            dict(
                img_size=224,
                embed_dim=64,
                depths=(1, 1, 1, 1),
                num_heads=(2, 4, 8, 16),
                window_size=7,
            ),
            dict(
                img_size=384,
                embed_dim=96,
                depths=(1, 1, 2, 1),
                num_heads=(3, 6, 12, 24),
                window_size=12,
            ),
            dict(
                img_size=256,
                embed_dim=128,
                depths=(1, 1, 1, 1),
                num_heads=(4, 8, 16, 32),
                window_size=8,
            ),
            dict(
                img_size=512,
                embed_dim=48,
                depths=(1, 1, 1, 1),
                num_heads=(2, 4, 8, 16),
                window_size=16,
            ),
            dict(
                img_size=320,
                embed_dim=96,
                depths=(2, 2, 1, 1),
                num_heads=(3, 6, 12, 24),
                window_size=10,
            ),
            *network_rows("swin"),
        ),
    )


FAMILY = Family(
    name="swin",
    title="Swin Transformer",
    spec_type=SwinSpec,
    plan=plan_swin,
    build=LazyCallable("hirisearch.models.swin_nn", "build_swin"),
    cost=cost_swin,
    size_reason=size_reason,
    test_sizes=_test_sizes,
    forward_size=lambda spec: 64 if spec.window_rule == "follow" else spec.img_size,
    latency_specs=latency_specs,
    blocks=stage_blocks(("num_heads", "mlp_ratio"), "depths"),
    train=LazyCallable("hirisearch.models.swin_train", "train_swin"),
    train_dense=True,
    dense=dense_plan,
    pyramid=pyramid,
    dense_spec=dense_spec,
)
