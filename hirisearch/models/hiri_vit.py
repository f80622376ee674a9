"""HIRI-ViT: a five-stage CNN+ViT hybrid for high-resolution inputs.

T. Yao, Y. Li, Y. Pan, T. Mei, "HIRI-ViT: Scaling Vision Transformer with High Resolution Inputs",
arXiv 2403.11999, IEEE TPAMI 46(9), 2024. No official code is public and the paper's Table 1 is not
available to us, so this family is RECONSTRUCTED from the published description (see
``shared/reference/hiri_vit.md``). Every choice the paper leaves open is a spec field:

- HR-stem (``stem_type: hr``): conv3x3/s2 + norm + act, then two parallel branches summed: a
  high-resolution branch (depth-wise 3x3/s2 + norm, 1x1 + norm) and a low-resolution branch with more
  convolutions (3x3/s2 + norm + act, then ``stem_lr_convs - 1`` 3x3 convs). ``stem_type: conv`` is the
  Wave-ViT conv stem (7x7/s2, two 3x3, 3x3/s2 projection, LayerNorm) for comparison.
- HR-block (``block_types[i]: hr``): ``y = x + HR(x) + Up(LR(x))``, HR = depth-wise 3x3 + norm on the
  full-resolution map, LR = depth-wise 3x3/s2 + norm, 1x1 + norm + act, depth-wise 3x3 + norm,
  1x1 + norm on the half-resolution map, bilinear up-sampling; then ``out = y + CFFN(y)``.
  ``hr_cffn: low_res`` instead puts the expanded CFFN inside the low-resolution branch only.
- IRDS between stages (``downsample: irds_a | irds_b``): 1x1 expand + norm + act, depth-wise 3x3/s2 +
  norm + act, 1x1 project + norm; variant b adds an avg-pool + 1x1 + norm shortcut.
- Transformer stages: pre-norm blocks, SDPA attention with optional key/value spatial reduction
  (``sr_ratios``), FFN with a depth-wise 3x3 conv (no position embedding).
- Head: global average pool + norm + linear (``head: avg``), or a class-attention block
  (``head: class_attn``), as in the authors' Wave-ViT / Dual-ViT.
- BN in convolutional parts (``conv_norm``), LN in token parts (``token_norm``).
Training-only parts (EMA distillation) are not modelled: they cost nothing at inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from timm.layers import DropPath
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import FieldError, ResolutionError
from hirisearch.layers.conv import ConvNormAct, conv_norm_act_cost
from hirisearch.layers.init import init_weights
from hirisearch.layers.mlp import ConvFFN, conv_ffn_cost
from hirisearch.layers.norm_act import ActKind, NormKind, make_norm, norm_cost
from hirisearch.layers.transformer import (
    ClassBlock,
    TransformerBlock,
    class_block_cost,
    transformer_block_cost,
)
from hirisearch.limits import MAX_BLOCKS, MAX_IMG_SIZE, MAX_RATIO, MAX_WIDTH
from hirisearch.models.base import Family, SpecBase

BlockType = Literal["hr", "transformer"]
Hw = tuple[int, int]

#: Input sizes must be multiples of this (stage 4 runs at stride 32; stage 5 rounds up).
SIZE_MULTIPLE = 32
MIN_SIZE = 64


# ----------------------------------------------------------------------------------------- spec
class HiriViTSpec(SpecBase):
    """A HIRI-ViT configuration. Per-stage lists are indexed stage 1..N (0-based in field paths)."""

    family: Literal["hiri_vit"]
    img_size: int = Field(448, ge=1, le=MAX_IMG_SIZE)
    in_chans: int = Field(3, ge=1, le=MAX_WIDTH)
    num_classes: int = Field(1000, ge=0, le=MAX_WIDTH)
    stem_type: Literal["hr", "conv"] = "hr"
    stem_chs: int = Field(32, ge=1, le=MAX_WIDTH)
    stem_lr_convs: int = Field(2, ge=1, le=MAX_BLOCKS)
    block_types: tuple[BlockType, ...] = Field(min_length=1)
    depths: tuple[int, ...] = Field(min_length=1)
    dims: tuple[int, ...] = Field(min_length=1)
    num_heads: tuple[int, ...] = Field(min_length=1)
    mlp_ratios: tuple[float, ...] = Field(min_length=1)
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
            if not 0 <= self.num_heads[i] <= self.dims[i]:
                raise FieldError(
                    f"num_heads[{i}]",
                    f"`0 <= num_heads[{i}] <= dims[{i}]` must hold, but got "
                    f"num_heads[{i}]={self.num_heads[i]}, dims[{i}]={self.dims[i]}",
                )
            ratio = self.mlp_ratios[i]
            if not 0 < ratio <= MAX_RATIO or int(self.dims[i] * ratio) < 1:
                raise FieldError(
                    f"mlp_ratios[{i}]",
                    f"must be > 0 and <= {MAX_RATIO:g} with a hidden width "
                    f"`int(dims[{i}] * mlp_ratios[{i}]) >= 1`, but got mlp_ratios[{i}]={ratio}, "
                    f"dims[{i}]={self.dims[i]}",
                )
            if not 1 <= self.sr_ratios[i] <= MAX_IMG_SIZE:
                raise FieldError(
                    f"sr_ratios[{i}]",
                    f"must be >= 1 and <= {MAX_IMG_SIZE}, but got {self.sr_ratios[i]}",
                )
            if self.block_types[i] == "transformer":
                heads, dim = self.num_heads[i], self.dims[i]
                if heads < 1 or dim % heads:
                    raise FieldError(
                        f"num_heads[{i}]",
                        f"`dims[{i}] % num_heads[{i}] == 0` with num_heads[{i}] >= 1 must hold, "
                        f"but got dims[{i}]={dim}, num_heads[{i}]={heads}",
                    )
            elif self.sr_ratios[i] != 1:
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
        if self.head == "class_attn":
            heads, dim = self.num_heads[-1], self.dims[-1]
            if heads < 1 or dim % heads:
                raise FieldError(
                    "head",
                    f"the class-attention head uses num_heads[-1]; `dims[-1] % num_heads[-1] == 0` "
                    f"must hold, but got dims[-1]={dim}, num_heads[-1]={heads}",
                )
        return self


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
    in_hw: Hw


@dataclass(frozen=True, slots=True)
class DownsamplePlan:
    in_chs: int
    out_chs: int
    hidden: int
    variant: str
    norm: NormKind
    act: ActKind
    in_hw: Hw


@dataclass(frozen=True, slots=True)
class StagePlan:
    block_type: BlockType
    depth: int
    dim: int
    num_heads: int
    mlp_ratio: float
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
    img_size: int
    in_chans: int
    stem: StemPlan
    stages: tuple[StagePlan, ...]
    head: HeadPlan
    hr_cffn: str
    conv_norm: NormKind
    token_norm: NormKind
    act: ActKind
    qkv_bias: bool

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, self.img_size, self.img_size)

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        stages = tuple((f"stage{i + 1}", f"stages.{i}") for i in range(len(self.stages)))
        return (("stem", "stem"), *stages, ("head", "head"))


def _hw(shape: tuple[int, ...]) -> Hw:
    """(height, width) of a (channels, height, width) shape."""
    return (shape[-2], shape[-1])


def _half(hw: Hw) -> Hw:
    """Map size after a stride-2 layer with 'same' padding (rounds up)."""
    return ((hw[0] + 1) // 2, (hw[1] + 1) // 2)


def valid_sizes_near(img_size: int, count: int = 2) -> tuple[int, ...]:
    """The valid input sizes closest to ``img_size``."""
    low = max(MIN_SIZE, img_size // SIZE_MULTIPLE * SIZE_MULTIPLE)
    cands = sorted({low, low + SIZE_MULTIPLE, max(MIN_SIZE, low - SIZE_MULTIPLE)})
    return tuple(sorted(cands, key=lambda s: (abs(s - img_size), s))[:count])


def plan_hiri_vit(spec: HiriViTSpec, img_size: int | None = None) -> HiriViTPlan:
    """Derive every size of the model at ``img_size`` (default: the spec's)."""
    size = spec.img_size if img_size is None else img_size
    if size > MAX_IMG_SIZE:
        raise ResolutionError(
            f"input size must be <= {MAX_IMG_SIZE}, but got {size}", field="img_size"
        )
    if size < MIN_SIZE or size % SIZE_MULTIPLE:
        near = " or ".join(str(s) for s in valid_sizes_near(size))
        raise ResolutionError(
            f"HIRI-ViT takes input sizes that are multiples of {SIZE_MULTIPLE} and >= {MIN_SIZE} "
            f"(stage 4 runs at stride 32), but got {size}; nearest valid: {near}",
            field="img_size",
        )
    stem_hw = (size, size)
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
                in_hw=hw,
            )
            hw = _half(hw)
        if spec.sr_ratios[i] > min(hw):
            raise ResolutionError(
                f"stage {i + 1} runs at {hw[0]}x{hw[1]} at input {size}, smaller than its key/value "
                f"reduction sr_ratios[{i}]={spec.sr_ratios[i]}; use a larger input or a smaller ratio",
                field=f"sr_ratios[{i}]",
            )
        start = sum(spec.depths[:i])
        stages.append(
            StagePlan(
                block_type=spec.block_types[i],
                depth=depth,
                dim=dim,
                num_heads=spec.num_heads[i],
                mlp_ratio=spec.mlp_ratios[i],
                sr_ratio=spec.sr_ratios[i],
                hw=hw,
                downsample=down,
                drop_path=tuple(rates[start : start + depth]),
            )
        )
        prev_dim = dim
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
        head=HeadPlan(
            spec.head, spec.dims[-1], spec.num_heads[-1], spec.head_mlp_ratio, spec.num_classes, hw
        ),
        hr_cffn=spec.hr_cffn,
        conv_norm=spec.conv_norm,
        token_norm=spec.token_norm,
        act=spec.act,
        qkv_bias=spec.qkv_bias,
    )


# --------------------------------------------------------------------------------- HR-stem
class HRStem(nn.Module):
    """HR-stem: ``x = conv(x); out = HR(x) + LR(x)`` at stride 4."""

    def __init__(self, p: StemPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        cm, c = p.stem_chs, p.out_chs
        self.conv = ConvNormAct(p.in_chans, cm, 3, 2, norm=p.norm, act=p.act, **dd)
        self.hr = nn.Sequential(
            ConvNormAct(cm, cm, 3, 2, groups=cm, norm=p.norm, **dd),
            ConvNormAct(cm, c, 1, norm=p.norm, **dd),
        )
        lr = [ConvNormAct(cm, c, 3, 2, norm=p.norm, act=p.act if p.lr_convs > 1 else None, **dd)]
        for j in range(1, p.lr_convs):
            last = j == p.lr_convs - 1
            lr.append(ConvNormAct(c, c, 3, norm=p.norm, act=None if last else p.act, **dd))
        self.lr = nn.Sequential(*lr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.hr(x) + self.lr(x)


@lru_cache(maxsize=1024)
def hr_stem_cost(p: StemPlan) -> CostNode:
    """Cost twin of :class:`HRStem`."""
    cm, c = p.stem_chs, p.out_chs
    conv = conv_norm_act_cost(p.in_chans, cm, 3, 2, norm=p.norm, act=p.act, in_hw=p.in_hw)
    mid = _hw(conv.out_shape)
    dw = conv_norm_act_cost(cm, cm, 3, 2, groups=cm, norm=p.norm, in_hw=mid)
    hr = CostNode.of(
        [("0", dw), ("1", conv_norm_act_cost(cm, c, 1, norm=p.norm, in_hw=_hw(dw.out_shape)))]
    )
    first = conv_norm_act_cost(
        cm, c, 3, 2, norm=p.norm, act=p.act if p.lr_convs > 1 else None, in_hw=mid
    )
    lr = [("0", first)]
    for j in range(1, p.lr_convs):
        act = None if j == p.lr_convs - 1 else p.act
        lr.append(
            (str(j), conv_norm_act_cost(c, c, 3, norm=p.norm, act=act, in_hw=_hw(first.out_shape)))
        )
    return CostNode.of([("conv", conv), ("hr", hr), ("lr", CostNode.of(lr))])


class ConvStem(nn.Module):
    """The Wave-ViT / Dual-ViT conv stem: 7x7/s2, two 3x3, 3x3/s2 projection, LayerNorm."""

    def __init__(self, p: StemPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        cm = p.stem_chs
        self.conv = nn.Sequential(
            ConvNormAct(p.in_chans, cm, 7, 2, norm=p.norm, act=p.act, **dd),
            ConvNormAct(cm, cm, 3, norm=p.norm, act=p.act, **dd),
            ConvNormAct(cm, cm, 3, norm=p.norm, act=p.act, **dd),
        )
        self.proj = nn.Conv2d(cm, p.out_chs, 3, 2, 1, **dd)
        self.norm = make_norm(p.token_norm, p.out_chs, "map", **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(self.conv(x)))


@lru_cache(maxsize=1024)
def conv_stem_cost(p: StemPlan) -> CostNode:
    """Cost twin of :class:`ConvStem`."""
    cm, c = p.stem_chs, p.out_chs
    c0 = conv_norm_act_cost(p.in_chans, cm, 7, 2, norm=p.norm, act=p.act, in_hw=p.in_hw)
    mid = _hw(c0.out_shape)
    c1 = conv_norm_act_cost(cm, cm, 3, norm=p.norm, act=p.act, in_hw=mid)
    out_hw = _half(mid)
    shape = (c, *out_hw)
    return CostNode.of(
        [
            ("conv", CostNode.of([("0", c0), ("1", c1), ("2", c1)])),
            ("proj", CostNode.leaf(P.conv2d(cm, c, 3, out_hw, bias=True), shape)),
            ("norm", CostNode.leaf(norm_cost(p.token_norm, c, c * out_hw[0] * out_hw[1]), shape)),
        ]
    )


# ----------------------------------------------------------------------------------- IRDS
class IRDS(nn.Module):
    """Inverted Residual Downsampling (stride 2); variant ``irds_b`` adds a pooled shortcut."""

    def __init__(self, p: DownsamplePlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        h = p.hidden
        self.conv1 = ConvNormAct(p.in_chs, h, 1, norm=p.norm, act=p.act, **dd)
        self.conv2 = ConvNormAct(h, h, 3, 2, groups=h, norm=p.norm, act=p.act, **dd)
        self.conv3 = ConvNormAct(h, p.out_chs, 1, norm=p.norm, **dd)
        self.shortcut = (
            nn.Sequential(
                nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
                ConvNormAct(p.in_chs, p.out_chs, 1, norm=p.norm, **dd),
            )
            if p.variant == "irds_b"
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


@lru_cache(maxsize=4096)
def irds_cost(p: DownsamplePlan) -> CostNode:
    """Cost twin of :class:`IRDS`."""
    h = p.hidden
    c1 = conv_norm_act_cost(p.in_chs, h, 1, norm=p.norm, act=p.act, in_hw=p.in_hw)
    c2 = conv_norm_act_cost(h, h, 3, 2, groups=h, norm=p.norm, act=p.act, in_hw=p.in_hw)
    out_hw = _hw(c2.out_shape)
    children = [
        ("conv1", c1),
        ("conv2", c2),
        ("conv3", conv_norm_act_cost(h, p.out_chs, 1, norm=p.norm, in_hw=out_hw)),
    ]
    if p.variant == "irds_b":
        proj = conv_norm_act_cost(p.in_chs, p.out_chs, 1, norm=p.norm, in_hw=out_hw)
        children.append(("shortcut", CostNode.of([("1", proj)])))
    return CostNode.of(children, out_shape=(p.out_chs, *out_hw))


# ------------------------------------------------------------------------------- HR-block
class HRBlock(nn.Module):
    """HR-block: ``y = x + HR(x) + Up(LR(x)); out = y + CFFN(y)`` (``hr_cffn: full``), or
    ``out = x + HR(x) + Up(LR(x))`` with the CFFN inside the low-resolution branch (``low_res``)."""

    def __init__(
        self,
        dim: int,
        *,
        mlp_ratio: float = 4.0,
        cffn: str = "full",
        norm: NormKind = "bn",
        act: ActKind = "gelu",
        drop_path: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        hidden = int(dim * mlp_ratio)
        self.hr = ConvNormAct(dim, dim, 3, groups=dim, norm=norm, **dd)
        down = ConvNormAct(dim, dim, 3, 2, groups=dim, norm=norm, **dd)
        if cffn == "full":
            self.lr = nn.Sequential(
                down,
                ConvNormAct(dim, dim, 1, norm=norm, act=act, **dd),
                ConvNormAct(dim, dim, 3, groups=dim, norm=norm, **dd),
                ConvNormAct(dim, dim, 1, norm=norm, **dd),
            )
            self.cffn = ConvFFN(dim, hidden, norm=norm, act=act, **dd)
        else:
            self.lr = nn.Sequential(down, ConvFFN(dim, hidden, norm=norm, act=act, **dd))
            self.cffn = None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    cffn: ConvFFN | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = F.interpolate(self.lr(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
        y = x + self.drop_path(self.hr(x) + low)
        if self.cffn is None:
            return y
        return y + self.drop_path(self.cffn(y))


@lru_cache(maxsize=4096)
def hr_block_cost(
    dim: int,
    *,
    mlp_ratio: float = 4.0,
    cffn: str = "full",
    norm: NormKind = "bn",
    act: ActKind = "gelu",
    in_hw: Hw,
) -> CostNode:
    """Cost twin of :class:`HRBlock` on an ``in_hw`` map."""
    hidden = int(dim * mlp_ratio)
    hr = conv_norm_act_cost(dim, dim, 3, groups=dim, norm=norm, in_hw=in_hw)
    down = conv_norm_act_cost(dim, dim, 3, 2, groups=dim, norm=norm, in_hw=in_hw)
    low = _hw(down.out_shape)
    if cffn == "full":
        lr = CostNode.of(
            [
                ("0", down),
                ("1", conv_norm_act_cost(dim, dim, 1, norm=norm, act=act, in_hw=low)),
                ("2", conv_norm_act_cost(dim, dim, 3, groups=dim, norm=norm, in_hw=low)),
                ("3", conv_norm_act_cost(dim, dim, 1, norm=norm, in_hw=low)),
            ]
        )
        ffn = conv_ffn_cost(dim, hidden, norm=norm, act=act, in_hw=in_hw)
        return CostNode.of([("hr", hr), ("lr", lr), ("cffn", ffn)], out_shape=hr.out_shape)
    lr = CostNode.of(
        [("0", down), ("1", conv_ffn_cost(dim, hidden, norm=norm, act=act, in_hw=low))]
    )
    return CostNode.of([("hr", hr), ("lr", lr)], out_shape=hr.out_shape)


# --------------------------------------------------------------------------------- stages
class HiriViTStage(nn.Module):
    """Optional IRDS, then ``depth`` HR-blocks (on the map) or Transformer blocks (on tokens)."""

    def __init__(self, p: StagePlan, plan: HiriViTPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.hw = p.hw
        self.is_tokens = p.block_type == "transformer"
        self.downsample = IRDS(p.downsample, **dd) if p.downsample else nn.Identity()
        if self.is_tokens:
            blocks: list[nn.Module] = [
                TransformerBlock(
                    p.dim,
                    p.num_heads,
                    mlp_ratio=p.mlp_ratio,
                    sr_ratio=p.sr_ratio,
                    qkv_bias=plan.qkv_bias,
                    norm=plan.token_norm,
                    act=plan.act,
                    drop_path=dp,
                    **dd,
                )
                for dp in p.drop_path
            ]
        else:
            blocks = [
                HRBlock(
                    p.dim,
                    mlp_ratio=p.mlp_ratio,
                    cffn=plan.hr_cffn,
                    norm=plan.conv_norm,
                    act=plan.act,
                    drop_path=dp,
                    **dd,
                )
                for dp in p.drop_path
            ]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if not self.is_tokens:
            for blk in self.blocks:
                x = blk(x)
            return x
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        for blk in self.blocks:
            t = blk(t, (h, w))
        return t.transpose(1, 2).reshape(b, c, h, w)


def _stage_cost(p: StagePlan, plan: HiriViTPlan) -> CostNode:
    return _stage_cost_of(p, _cost_key(plan))


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
def _stage_cost_of(p: StagePlan, plan: StageCostKey) -> CostNode:
    """Cached by stage: a search re-costs the same stage in many candidates."""
    if p.block_type == "transformer":
        block = transformer_block_cost(
            p.dim,
            p.num_heads,
            mlp_ratio=p.mlp_ratio,
            sr_ratio=p.sr_ratio,
            qkv_bias=plan.qkv_bias,
            norm=plan.token_norm,
            act=plan.act,
            hw=p.hw,
        )
    else:
        block = hr_block_cost(
            p.dim,
            mlp_ratio=p.mlp_ratio,
            cffn=plan.hr_cffn,
            norm=plan.conv_norm,
            act=plan.act,
            in_hw=p.hw,
        )
    shape = (p.dim, *p.hw)
    blocks = CostNode.of([(str(i), block) for i in range(p.depth)], out_shape=shape)
    children = [("downsample", irds_cost(p.downsample))] if p.downsample else []
    children.append(("blocks", blocks))
    return CostNode.of(children, out_shape=shape)


# ----------------------------------------------------------------------------------- head
class HiriViTHead(nn.Module):
    """``avg``: mean over the map, norm, linear. ``class_attn``: a class token attends over all
    tokens in one class-attention block, then norm and linear."""

    def __init__(self, p: HeadPlan, plan: HiriViTPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.class_attn = p.head_type == "class_attn"
        if self.class_attn:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, p.dim, **dd))
            self.block = ClassBlock(
                p.dim,
                p.num_heads,
                mlp_ratio=p.mlp_ratio,
                qkv_bias=plan.qkv_bias,
                norm=plan.token_norm,
                act=plan.act,
                **dd,
            )
        self.norm = make_norm(plan.token_norm, p.dim, "tokens", **dd)
        self.fc = nn.Linear(p.dim, p.num_classes, **dd) if p.num_classes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.class_attn:
            t = x.flatten(2).transpose(1, 2)
            x = self.block(torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], dim=1))
        else:
            x = x.mean((2, 3))[:, None]
        return self.fc(self.norm(x))[:, 0]


def _head_cost(p: HeadPlan, plan: HiriViTPlan) -> CostNode:
    return _head_cost_of(p, _cost_key(plan))


@lru_cache(maxsize=4096)
def _head_cost_of(p: HeadPlan, plan: StageCostKey) -> CostNode:
    children = []
    own = Cost()
    if p.head_type == "class_attn":
        own = P.param_only(p.dim)
        tokens = p.hw[0] * p.hw[1] + 1
        children.append(
            (
                "block",
                class_block_cost(
                    p.dim,
                    p.num_heads,
                    mlp_ratio=p.mlp_ratio,
                    qkv_bias=plan.qkv_bias,
                    norm=plan.token_norm,
                    act=plan.act,
                    tokens=tokens,
                ),
            )
        )
    children.append(("norm", CostNode.leaf(norm_cost(plan.token_norm, p.dim, p.dim))))
    if p.num_classes:
        children.append(("fc", CostNode.leaf(P.linear(p.dim, p.num_classes, 1))))
    return CostNode.of(children, own=own, out_shape=(p.num_classes or p.dim,))


# ---------------------------------------------------------------------------------- model
class HiriViT(nn.Module):
    """HIRI-ViT built from a :class:`HiriViTPlan`."""

    def __init__(self, plan: HiriViTPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.plan = plan
        self.stem = (
            HRStem(plan.stem, **dd) if plan.stem.stem_type == "hr" else ConvStem(plan.stem, **dd)
        )
        self.stages = nn.ModuleList(HiriViTStage(s, plan, **dd) for s in plan.stages)
        self.head = HiriViTHead(plan.head, plan, **dd)
        if torch.device(device or torch.get_default_device()).type != "meta":
            # Meta tensors hold no values; initialising them only costs time (most of a meta build).
            self.apply(init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # NHWC throughout: convolutions run on their channels-last kernels, and the map <-> token
        # reshapes of the Transformer stages and of the FFN's depth-wise conv become free views
        # instead of copies. Layout only; the arithmetic is unchanged.
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def build_hiri_vit(plan: HiriViTPlan, *, device=None, dtype=None) -> HiriViT:
    """Build the model described by ``plan``."""
    return HiriViT(plan, device=device, dtype=dtype)


def cost_hiri_vit(plan: HiriViTPlan) -> CostNode:
    """Analytic cost of the model described by ``plan``, keyed by the builder's module paths."""
    stem = hr_stem_cost(plan.stem) if plan.stem.stem_type == "hr" else conv_stem_cost(plan.stem)
    key = _cost_key(plan)
    stages = CostNode.of([(str(i), _stage_cost_of(s, key)) for i, s in enumerate(plan.stages)])
    head = _head_cost_of(plan.head, key)
    return CostNode.of([("stem", stem), ("stages", stages), ("head", head)])


def latency_specs() -> tuple[HiriViTSpec, ...]:
    """Small configurations whose whole networks calibrate the latency predictor (shallow, at the
    widths and input sizes searches use): ``Family.latency_specs``."""
    return (
        HiriViTSpec.model_validate(
            dict(
                family="hiri_vit",
                name="cal-448",
                img_size=448,
                stem_chs=32,
                block_types=("hr", "hr", "transformer", "transformer", "transformer"),
                depths=(1, 1, 1, 1, 1),
                dims=(32, 64, 128, 320, 448),
                num_heads=(0, 0, 4, 10, 14),
                mlp_ratios=(4, 4, 8, 4, 4),
                sr_ratios=(1, 1, 1, 1, 1),
                head="class_attn",
            )
        ),
        HiriViTSpec.model_validate(
            dict(
                family="hiri_vit",
                name="cal-224",
                img_size=224,
                stem_chs=24,
                block_types=("hr", "hr", "transformer", "transformer", "transformer"),
                depths=(1, 2, 2, 2, 1),
                dims=(24, 48, 96, 192, 384),
                num_heads=(0, 0, 3, 6, 12),
                mlp_ratios=(4, 4, 4, 4, 4),
                sr_ratios=(1, 1, 2, 1, 1),
                head="avg",
            )
        ),
        HiriViTSpec.model_validate(
            dict(
                family="hiri_vit",
                name="cal-320",
                img_size=320,
                stem_chs=16,
                block_types=("hr", "hr", "hr", "transformer", "transformer"),
                depths=(1, 1, 1, 2, 1),
                dims=(16, 32, 64, 160, 320),
                num_heads=(0, 0, 0, 5, 10),
                mlp_ratios=(2, 2, 2, 8, 8),
                sr_ratios=(1, 1, 1, 1, 1),
                head="avg",
            )
        ),
        HiriViTSpec.model_validate(
            dict(
                family="hiri_vit",
                name="cal-512",
                img_size=512,
                stem_chs=16,
                block_types=("hr", "transformer", "transformer", "transformer", "transformer"),
                depths=(1, 1, 1, 1, 1),
                dims=(16, 32, 64, 128, 256),
                num_heads=(0, 1, 2, 4, 8),
                mlp_ratios=(4, 4, 4, 4, 4),
                sr_ratios=(1, 2, 1, 1, 1),
                head="avg",
            )
        ),
        HiriViTSpec.model_validate(
            dict(
                family="hiri_vit",
                name="cal-384",
                img_size=384,
                stem_chs=24,
                block_types=("hr", "hr", "transformer", "transformer", "transformer"),
                depths=(2, 1, 1, 1, 2),
                dims=(24, 48, 96, 224, 448),
                num_heads=(0, 0, 3, 7, 14),
                mlp_ratios=(2, 4, 8, 4, 4),
                sr_ratios=(1, 1, 2, 1, 1),
                head="class_attn",
            )
        ),
    )


FAMILY = Family(
    name="hiri_vit",
    title="HIRI-ViT",
    spec_type=HiriViTSpec,
    plan=plan_hiri_vit,
    build=build_hiri_vit,
    cost=cost_hiri_vit,
    latency_specs=latency_specs,
)
