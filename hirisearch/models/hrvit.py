"""HRViT: a multi-branch, high-resolution Vision Transformer.

J. Gu, H. Kwon, D. Wang, W. Ye, M. Li, Y.-H. Chen, L. Lai, V. Chandra, D. Z. Pan, "Multi-Scale
High-Resolution Vision Transformer for Semantic Segmentation", CVPR 2022 (arXiv 2111.01236). The
architecture follows the public facebookresearch/HRViT classification model (read for facts, this
is our own code); no part is simplified:

- Stem: 3x3/s2 conv (half the stem width) + BN + ReLU, 3x3/s2 conv + BN + ReLU (stride 4).
- Six stage groups, each an HRNet-style fusion block then a stage; a group may add one branch
  (at half the resolution of the previous last branch), which the fusion block creates.
- A stage: per branch, a patch embedding (1x1 conv, depth-wise 3x3 conv, LayerNorm), ``depths[g][i]``
  HRViT blocks, and a final LayerNorm.
- HRViT block: ``x = x + Attn(LN(x)) + DES(x); x = x + MixCFN(LN(x))`` with cross-shaped window
  attention (shared key/value, window list per branch), a parallel depth-wise conv and BN inside the
  attention, the diversity-enhanced shortcut DES and the mixed-scale convolutional FFN.
- Head: the HRNet classification head (bottlenecks, fold to the lowest resolution, 1x1 conv to 2048,
  average pool, linear).
Training-only parts (drop path, dropout, gradient checkpointing) do no inference work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, model_validator

from hirisearch.cost import primitives as P
from hirisearch.cost.types import ZERO, CostNode
from hirisearch.errors import FieldError
from hirisearch.layers.conv import conv_norm_act_cost
from hirisearch.layers.cross_shaped import cross_shaped_attention_cost
from hirisearch.layers.hrnet import hr_fusion_cost, hrnet_classifier_cost
from hirisearch.layers.mix_ffn import des_cost, des_factors, mix_cfn_cost
from hirisearch.lazy import LazyCallable
from hirisearch.models.base import Family, ImgSize, SpecBase, calibration_specs, network_rows
from hirisearch.models.resolution import Hw, as_hw, axis_reason, check_resolution
from hirisearch.tasks.pyramid import Level

#: HRViT's LayerNorms use PyTorch's default epsilon.
LN_EPS = 1e-5
STEM_STRIDE = 4


# ----------------------------------------------------------------------------------------- spec
class HRViTSpec(SpecBase):
    """An HRViT configuration. ``channels``, ``window_sizes``, ``mlp_ratios`` and ``head_channels``
    are per branch; ``depths`` lists, per stage group, the blocks of each of its branches."""

    family: Literal["hrvit"]
    img_size: ImgSize = 224
    in_chans: int = Field(3, ge=1)
    num_classes: int = Field(1000, ge=0)
    stem_chs: int = Field(64, ge=2)
    channels: tuple[Annotated[int, Field(ge=1)], ...] = Field(min_length=1)
    depths: tuple[tuple[int, ...], ...] = Field(min_length=1)
    head_dim: int = Field(32, ge=1)
    window_sizes: tuple[int, ...] = Field(min_length=1)
    mlp_ratios: tuple[float, ...] = Field(min_length=1)
    head_channels: tuple[Annotated[int, Field(ge=1)], ...] = Field(min_length=1)
    head_expansion: int = Field(4, ge=1)
    head_final_chs: int = Field(2048, ge=1)
    drop_path_rate: float = Field(0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> HRViTSpec:
        n = len(self.channels)
        for field in ("window_sizes", "mlp_ratios", "head_channels"):
            values = getattr(self, field)
            if len(values) != n:
                raise FieldError(
                    field,
                    f"`len({field}) == len(channels)` must hold (one per branch), but got "
                    f"channels={self.channels}, {field}={values}",
                )
        prev = 1  # the stem is one branch
        for g, group in enumerate(self.depths):
            if not 0 <= len(group) - prev <= 1 or not group:
                raise FieldError(
                    f"depths[{g}]",
                    f"a stage group keeps the branches of the previous one or adds one, so it has "
                    f"{prev} or {prev + 1} entries (group 0: 1), but got {list(group)}",
                )
            for b, d in enumerate(group):
                if d < 1:
                    raise FieldError(f"depths[{g}][{b}]", f"must be >= 1, but got {d}")
            prev = len(group)
        if prev != n:
            raise FieldError(
                "depths",
                f"the last stage group must run every branch: `len(depths[-1]) == len(channels)` "
                f"must hold, but got len(depths[-1])={prev}, channels={self.channels}",
            )
        for b, c in enumerate(self.channels):
            hd = self.head_dim
            if c % hd or (c != hd and (c // hd) % 2):
                raise FieldError(
                    f"channels[{b}]",
                    f"each half of a branch runs whole heads: `channels[{b}] % (2 * head_dim) == 0`"
                    f" or `channels[{b}] == head_dim` must hold, but got channels[{b}]={c}, "
                    f"head_dim={hd}",
                )
            p = des_factors(c, c)[0]
            if c % p:
                raise FieldError(
                    f"channels[{b}]",
                    f"the diversity-enhanced shortcut folds channels into k x {p}: "
                    f"`channels[{b}] % {p} == 0` must hold, but got channels[{b}]={c}",
                )
            if self.window_sizes[b] < 1:
                raise FieldError(
                    f"window_sizes[{b}]", f"must be >= 1, but got {self.window_sizes[b]}"
                )
            if int(c * self.mlp_ratios[b]) < 2:
                raise FieldError(
                    f"mlp_ratios[{b}]",
                    f"`int(channels[{b}] * mlp_ratios[{b}]) >= 2` must hold (MixConv splits the "
                    f"hidden channels in two), but got {c} * {self.mlp_ratios[b]}",
                )
            if self.head_channels[b] < 1:
                raise FieldError(
                    f"head_channels[{b}]", f"must be >= 1, but got {self.head_channels[b]}"
                )
        return self


# ----------------------------------------------------------------------------------------- plan
@dataclass(frozen=True, slots=True)
class BranchPlan:
    in_chs: int
    dim: int
    depth: int
    head_dim: int
    window_size: int
    mlp_ratio: float
    hw: Hw
    drop_path: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class GroupPlan:
    fusion_in: tuple[int, ...]
    fusion_out: tuple[int, ...]
    in_hws: tuple[Hw, ...]
    out_hws: tuple[Hw, ...]
    branches: tuple[BranchPlan, ...]


@dataclass(frozen=True, slots=True)
class HeadPlan:
    in_chs: tuple[int, ...]
    head_chs: tuple[int, ...]
    expansion: int
    final_chs: int
    num_classes: int
    hws: tuple[Hw, ...]


@dataclass(frozen=True, slots=True)
class HRViTPlan:
    name: str
    family: str
    img_size: Hw  # (height, width)
    in_chans: int
    stem_chs: int
    groups: tuple[GroupPlan, ...]
    head: HeadPlan
    #: ``pyramid``: the dense form (HRViT's segmentation backbone): the last group's branch maps,
    #: each after its stage's LayerNorm, and no classification head.
    outputs: Literal["classification", "pyramid"] = "classification"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.img_size)

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        groups = tuple((f"group{i + 1}", f"groups.{i}") for i in range(len(self.groups)))
        head = (("head", "head"),) if self.outputs == "classification" else ()
        return (("stem", "stem"), *groups, *head)


def size_multiple(spec: HRViTSpec) -> int:
    """Each side of the input must be a multiple of this: the lowest branch runs at stride
    4 * 2^(branches-1), and nearest up-sampling in the fusion blocks needs every branch to be
    exactly half the previous on each axis."""
    return STEM_STRIDE * 2 ** (len(spec.channels) - 1)


def size_reason(spec: HRViTSpec, hw: Hw) -> str | None:
    """Why HRViT cannot take ``hw`` ((height, width); ``None``: it can), naming the axis."""
    m = size_multiple(spec)

    def side_reason(side: int) -> str | None:
        return None if side >= m and side % m == 0 else f"not a positive multiple of {m}"

    return axis_reason(hw, side_reason)


def plan_hrvit(spec: HRViTSpec, img_size: Hw | None = None) -> HRViTPlan:
    """Derive every size of the model at ``img_size`` ((height, width); default: the spec's)."""
    size = as_hw(spec.img_size if img_size is None else img_size)
    m = size_multiple(spec)
    check_resolution(
        lambda s: size_reason(spec, s),
        size,
        model=f"HRViT with {len(spec.channels)} branches",
        step=m,
        rule=f"are positive multiples of {m} on each side (the last branch runs at stride {m})",
    )
    strides = (STEM_STRIDE * 2**b for b in range(len(spec.channels)))
    hws = tuple((size[0] // s, size[1] // s) for s in strides)
    total = sum(max(g) for g in spec.depths)
    rates = [spec.drop_path_rate * i / max(total - 1, 1) for i in range(total)]
    groups: list[GroupPlan] = []
    prev: tuple[int, ...] = (spec.stem_chs,)
    start = 0
    for group in spec.depths:
        nb = len(group)
        fusion_out = prev if nb == len(prev) else (*prev, spec.channels[nb - 1])
        branches = tuple(
            BranchPlan(
                in_chs=fusion_out[b],
                dim=spec.channels[b],
                depth=d,
                head_dim=spec.head_dim,
                window_size=spec.window_sizes[b],
                mlp_ratio=spec.mlp_ratios[b],
                hw=hws[b],
                drop_path=tuple(rates[start : start + d]),
            )
            for b, d in enumerate(group)
        )
        groups.append(GroupPlan(prev, fusion_out, hws[: len(prev)], hws[:nb], branches))
        prev, start = spec.channels[:nb], start + max(group)
    head = HeadPlan(
        spec.channels,
        spec.head_channels,
        spec.head_expansion,
        spec.head_final_chs,
        spec.num_classes,
        hws,
    )
    return HRViTPlan(spec.name, "hrvit", size, spec.in_chans, spec.stem_chs, tuple(groups), head)


# ---------------------------------------------------------------------------------- stem
@lru_cache(maxsize=256)
def hrvit_stem_cost(in_chans: int, stem_chs: int, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`HRViTStem`."""
    mid = stem_chs // 2
    c1 = conv_norm_act_cost(in_chans, mid, 3, 2, bias=True, act="relu", hw=hw)
    c2 = conv_norm_act_cost(mid, stem_chs, 3, 2, bias=True, act="relu", hw=c1.out_shape[1:])
    return CostNode.of([("conv1", c1), ("conv2", c2)])


# ------------------------------------------------------------------------------ block
@lru_cache(maxsize=1024)
def hrvit_block_cost(p: BranchPlan) -> CostNode:
    """Cost twin of :class:`HRViTBlock` (drop path does no inference work)."""
    dim, n = p.dim, p.hw[0] * p.hw[1]
    ln = CostNode.leaf(P.layer_norm(dim, dim * n))
    return CostNode.of(
        [
            ("norm1", ln),
            ("attn", cross_shaped_attention_cost(dim, p.head_dim, p.window_size, hw=p.hw)),
            ("des", des_cost(dim, dim, tokens=n)),
            ("norm2", ln),
            ("ffn", mix_cfn_cost(dim, int(dim * p.mlp_ratio), hw=p.hw)),
        ],
        out_shape=(n, dim),
    )


# ------------------------------------------------------------------------------ stage
def _branch_cost(p: BranchPlan) -> CostNode:
    n = p.hw[0] * p.hw[1]
    ln = CostNode.leaf(P.layer_norm(p.dim, p.dim * n))
    embed = CostNode.of(
        [
            ("0", CostNode.leaf(P.conv2d(p.in_chs, p.dim, 1, p.hw, bias=True))),
            ("1", CostNode.leaf(P.conv2d(p.dim, p.dim, 3, p.hw, groups=p.dim, bias=True))),
        ]
    )
    block = hrvit_block_cost(p)
    blocks = CostNode.of([(str(i), block) for i in range(p.depth)])
    return CostNode.of(
        [("embed", embed), ("embed_norm", ln), ("blocks", blocks), ("norm", ln)],
        out_shape=(p.dim, *p.hw),
    )


def _group_cost(p: GroupPlan) -> CostNode:
    fusion = hr_fusion_cost(p.fusion_in, p.fusion_out, p.in_hws, p.out_hws)
    branches = CostNode.of([(str(i), _branch_cost(b)) for i, b in enumerate(p.branches)])
    children = [("fusion", fusion)] if fusion.total != ZERO else []
    return CostNode.of([*children, ("branches", branches)])


# ---------------------------------------------------------------------------------- model
def cost_hrvit(plan: HRViTPlan) -> CostNode:
    """Analytic cost of the model described by ``plan``, keyed by the builder's module paths."""
    stem = hrvit_stem_cost(plan.in_chans, plan.stem_chs, hw=plan.img_size)
    groups = CostNode.of([(str(i), _group_cost(g)) for i, g in enumerate(plan.groups)])
    if plan.outputs == "pyramid":
        return CostNode.of([("stem", stem), ("groups", groups)])
    h = plan.head
    head = hrnet_classifier_cost(
        h.in_chs,
        h.head_chs,
        expansion=h.expansion,
        final_chs=h.final_chs,
        num_classes=h.num_classes,
        hws=h.hws,
    )
    return CostNode.of([("stem", stem), ("groups", groups), ("head", head)])


def dense_plan(plan: HRViTPlan) -> HRViTPlan:
    """The dense form of ``plan`` (HRViT's segmentation backbone): no classification head."""
    return replace(plan, outputs="pyramid")


def pyramid(plan: HRViTPlan) -> tuple[Level, ...]:
    """The dense form's levels: the last group's branches, branch ``b`` at stride ``4 * 2**b``."""
    return tuple(
        Level(b.dim, b.hw, STEM_STRIDE * 2**i) for i, b in enumerate(plan.groups[-1].branches)
    )


def latency_specs() -> tuple[HRViTSpec, ...]:
    """Configurations whose whole networks calibrate the latency predictor: small ones, also
    timed module by module, then those of ``networks/hrvit.yaml``, sized as searches draw them:
    ``Family.latency_specs``."""

    def spec(
        name: str, size: int, chs: tuple[int, ...], depths: tuple, windows: tuple
    ) -> HRViTSpec:
        return HRViTSpec.model_validate(
            dict(
                family="hrvit",
                name=name,
                img_size=size,
                stem_chs=64,
                channels=chs,
                depths=depths,
                window_sizes=windows,
                mlp_ratios=(4,) * len(chs),
                head_channels=chs,
            )
        )

    return (
        spec(
            "cal-224",
            224,
            (32, 64, 128, 256),
            ((1,), (1, 1), (1, 1, 1), (1, 1, 1, 1)),
            (1, 2, 7, 7),
        ),
        spec("cal-256", 256, (32, 64, 128), ((1,), (1, 1), (1, 1, 2)), (1, 2, 8)),
        spec(
            "cal-320",
            320,
            (32, 64, 128, 256),
            ((1,), (1, 1), (1, 1, 2), (1, 1, 1, 1)),
            (1, 2, 7, 7),
        ),
        spec(
            "cal-448",
            448,
            (32, 64, 128, 256),
            ((1,), (1, 1), (1, 1, 1), (1, 1, 1, 1)),
            (1, 2, 7, 7),
        ),
        spec("cal-2b-256", 256, (64, 128), ((1,), (1, 1)), (2, 8)),
        *calibration_specs(HRViTSpec, "hrvit", network_rows("hrvit")),
    )


FAMILY = Family(
    name="hrvit",
    title="HRViT",
    spec_type=HRViTSpec,
    plan=plan_hrvit,
    build=LazyCallable("hirisearch.models.hrvit_nn", "build_hrvit"),
    cost=cost_hrvit,
    size_reason=size_reason,
    # 224 is the published size; 160 exercises padded windows (branches 40/20/10/5, windows
    # 1/2/7/7 pad 10 -> 14 and 5 -> 7); 160x224 pads the height only (branches 40x56 ... 5x7).
    test_sizes=lambda spec: (160, 224, (160, 224)),
    forward_size=lambda spec: size_multiple(spec) * 2,
    latency_specs=latency_specs,
    train=LazyCallable("hirisearch.models.hrvit_train", "train_hrvit"),
    train_dense=True,
    dense=dense_plan,
    pyramid=pyramid,
)
