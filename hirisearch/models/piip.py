"""PIIP: Parameter-Inverted Image Pyramid Networks.

Z. Zhu, H. Wang, et al., "Parameter-Inverted Image Pyramid Networks", NeurIPS 2024,
arXiv 2406.04330; code: OpenGVLab/PIIP (read for facts, not copied).

Two to four plain-ViT branches (patch 16) see the same image at different resolutions; the LARGEST
model sees the SMALLEST image. Branch 1 is the largest model; the input is given at the last
branch's resolution and resized bilinearly for the others. After selected layers the branches
exchange information: one interaction block per placement, made of one
:class:`~hirisearch.layers.interaction.InteractionUnit` per pair of adjacent branches, run from the
last pair to the first (the paper's topology; ``interaction_units`` lists other pairs, one-way
units and their order, as the paper's interaction-direction ablation does). The units attend
with deformable cross-attention, or regular cross-attention (``interaction_attn: cross``, the
paper's attention-type ablation). Every unit is the identity at initialisation (zero-initialised
gammas). A branch can take InternViT-6B's block form (``norm: rms``, ``qk_norm``, ``qkv_bias``).

Outputs (``output``):

- ``classification``: each branch keeps its final LayerNorm and linear head (on its class token, or
  on the mean of its tokens without one); the logits are averaged. Upstream reads the first *patch*
  token after splitting the class token off, which looks unintended; we use the class token.
- ``merged``: every branch is projected to branch 1's width (branch 1: GroupNorm(32); the others
  GroupNorm -> Linear -> GroupNorm), upsampled bilinearly to the last branch's grid, summed with
  learnable scalar weights, then LayerNorm -> mean -> Linear(num_classes).
- ``dense``: the detection backbone's merge: two 3x3 conv + GroupNorm(32) + ReLU per branch (no
  bias), same upsampling and weighted sum; the output is the (dim_1, H, W) map at the last grid.
  The dense form (``Family.dense``, the backbone under a task head) is this merge followed by
  the detection code's four-level pyramid (:mod:`hirisearch.layers.simple_pyramid`: transposed
  convs to strides 4 and 8, the map at 16, max pooling to 32), which PIIP's detectors feed to an
  FPN neck; PIIP's own counting stops before it (``--convention piip``).

Reconstructed details: position embeddings are stored at each branch's planned grid (upstream's
classification class; the detector interpolates a 224-px table, which changes params only); window
attention pads q/k/v with zeros as upstream's ``WindowedAttention`` does.

PIIP's published GFLOPs come from its own counting path (docs/families.md, "PIIP"); the ``piip``
:class:`~hirisearch.models.base.Convention` reproduces it analytically from the plan
(:mod:`hirisearch.models.piip_convention`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.errors import SpecError
from hirisearch.layers.interaction import InteractionAttn, Update, interaction_unit_cost
from hirisearch.layers.pyramid_merge import dense_merge_cost, merged_head_cost
from hirisearch.layers.simple_pyramid import simple_pyramid_cost, simple_pyramid_grids
from hirisearch.layers.vit import TokenNorm, block_windows, patch_embed_cost, vit_block_cost
from hirisearch.lazy import LazyCallable
from hirisearch.models.base import Convention, Family, calibration_specs, network_rows
from hirisearch.models.piip_convention import cost_piip_repo, piip_convention_description
from hirisearch.models.piip_spec import (
    GN_GROUPS,
    InteractionUnitSpec,
    PIIPBranchSpec,
    PIIPSpec,
)
from hirisearch.models.resolution import (
    Hw,
    Size,
    as_hw,
    axis_reason,
    check_resolution,
    size_key,
    size_label,
)
from hirisearch.tasks.pyramid import Level, Pyramid

__all__ = ["GN_GROUPS", "FAMILY", "InteractionUnitSpec", "PIIPBranchSpec", "PIIPSpec", "plan_piip"]


# ----------------------------------------------------------------------------------------- plan
@dataclass(frozen=True, slots=True)
class BranchPlan:
    img_size: Hw  # (height, width) of the image this branch sees
    hw: Hw  # token grid
    dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    windows: tuple[int, ...]  # per layer: 0 = global, else the window size
    segments: tuple[tuple[int, int], ...]  # [start, stop) of the blocks before each interaction
    block_params: int
    qkv_bias: bool = True
    norm: TokenNorm = "ln"
    qk_norm: bool = False
    fused_mlp: bool = False

    @property
    def tokens(self) -> int:
        return self.hw[0] * self.hw[1]


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """An interaction unit between branches ``a`` < ``b``; ``update``: both, ``a`` or ``b``."""

    a: int
    b: int
    update: Update = "both"


@dataclass(frozen=True, slots=True)
class PIIPPlan:
    name: str
    family: str
    img_size: Hw  # (height, width): the last branch's
    in_chans: int
    patch_size: int
    branches: tuple[BranchPlan, ...]
    cls_token: bool
    qkv_bias: bool
    layer_scale: float | None
    interactions: int
    deform_num_heads: int
    deform_points: int
    deform_ratio: float
    cffn_ratio: float
    output: str
    num_classes: int
    warnings: tuple[str, ...] = ()
    interaction_attn: InteractionAttn = "deformable"
    units: tuple[UnitPlan, ...] = ()  # module order (``units.<j>``)
    unit_order: tuple[int, ...] = ()  # the order the units run in
    outputs: Literal["classification", "pyramid"] = "classification"  # pyramid: the dense form

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.img_size)

    @property
    def unit_kwargs(self) -> dict:
        return dict(
            num_heads=self.deform_num_heads,
            num_points=self.deform_points,
            value_ratio=self.deform_ratio,
            cffn_ratio=self.cffn_ratio,
            attn=self.interaction_attn,
        )

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        out = [
            (f"branch{i + 1} {b.dim}@{size_label(b.img_size)}", f"branches.{i}")
            for i, b in enumerate(self.branches)
        ]
        if self.interactions:
            out.append(("interactions", "interactions"))
        if self.output != "classification":
            out.append(("merge", "merge"))
        if self.outputs == "pyramid":
            out.append(("pyramid", "pyramid"))
        return tuple(out)


def _block_params(b: PIIPBranchSpec, qkv_bias: bool, layer_scale: bool) -> int:
    """Parameters of one branch block (they do not depend on the heads or the token count)."""
    node = vit_block_cost(
        b.dim,
        1,
        mlp_ratio=b.mlp_ratio,
        qkv_bias=qkv_bias,
        layer_scale=1.0 if layer_scale else None,
        qk_norm=b.qk_norm,
        norm=b.norm,
        hw=(1, 1),
        tokens=1,
    )
    return node.total.params


def _inversion_warning(branches: tuple[BranchPlan, ...]) -> tuple[str, ...]:
    sizes = [b.img_size for b in branches]
    params = [b.block_params * b.depth for b in branches]
    areas = [size_key(s) for s in sizes]
    inverted = all(a < b for a, b in zip(areas, areas[1:], strict=False)) and all(
        a > b for a, b in zip(params, params[1:], strict=False)
    )
    if inverted:
        return ()
    detail = ", ".join(
        f"{p / 1e6:.1f}M@{size_label(s)}" for p, s in zip(params, sizes, strict=True)
    )
    return (
        f"branch order is not parameter-inverted (expected larger models on smaller images, got "
        f"{detail}); allowed, but the PIIP paper's ablation finds it worse",
    )


def size_reason(spec: PIIPSpec, hw: Hw) -> str | None:
    """Why PIIP cannot take ``hw`` ((height, width)) as its last branch's resolution (``None``: it
    can), naming the axis."""
    p = spec.patch_size

    def side_reason(side: int) -> str | None:
        return None if side >= p and side % p == 0 else f"not a multiple of the patch size {p}"

    return axis_reason(hw, side_reason)


def branch_size(b: PIIPBranchSpec, spec: PIIPSpec, size: Hw) -> Hw:
    """Branch ``b``'s image at input ``size``: on each axis, its ratio to the spec's input
    rounded to the nearest multiple of the patch (at least one patch)."""
    p = spec.patch_size
    return tuple(  # type: ignore[return-value]
        max(p, round(side * new / old / p) * p)
        for side, new, old in zip(as_hw(b.img_size), size, as_hw(spec.img_size), strict=True)
    )


def _branch_plan(b: PIIPBranchSpec, spec: PIIPSpec, res: Hw) -> BranchPlan:
    n, p = spec.interactions, spec.patch_size
    ends = b.interaction_layers or tuple((k + 1) * b.depth // n - 1 for k in range(n))
    starts = (0, *(e + 1 for e in ends))
    stops = (*(e + 1 for e in ends), b.depth)
    qkv_bias = spec.qkv_bias if b.qkv_bias is None else b.qkv_bias
    return BranchPlan(
        img_size=res,
        hw=(res[0] // p, res[1] // p),
        dim=b.dim,
        depth=b.depth,
        num_heads=b.num_heads,
        mlp_ratio=b.mlp_ratio,
        windows=block_windows(b.window_size, b.global_every, b.depth),
        segments=tuple(zip(starts, stops, strict=True)),
        block_params=_block_params(b, qkv_bias, spec.layer_scale is not None),
        qkv_bias=qkv_bias,
        norm=b.norm,
        qk_norm=b.qk_norm,
        fused_mlp=b.fused_mlp,
    )


def _units(spec: PIIPSpec) -> tuple[tuple[UnitPlan, ...], tuple[int, ...]]:
    """The units in module order and the order they run in (default: adjacent pairs, both ways,
    last pair first)."""
    if spec.interaction_units is None:
        units = tuple(UnitPlan(j, j + 1) for j in range(len(spec.branches) - 1))
        return units, tuple(reversed(range(len(units))))
    units = tuple(UnitPlan(u.a, u.b, u.update) for u in spec.interaction_units)
    return units, tuple(range(len(units)))


def plan_piip(spec: PIIPSpec, img_size: Hw | None = None) -> PIIPPlan:
    """Plan at ``img_size`` ((height, width) of the last branch; default: the spec's). At another
    size every branch keeps its ratio to the input on each axis, rounded to the nearest multiple
    of the patch size."""
    size = as_hw(spec.img_size if img_size is None else img_size)
    p = spec.patch_size
    check_resolution(
        lambda s: size_reason(spec, s),
        size,
        model="PIIP",
        step=p,
        rule=f"are multiples of the patch size {p} on each side",
    )
    branches = tuple(_branch_plan(b, spec, branch_size(b, spec, size)) for b in spec.branches)
    units, order = _units(spec)
    return PIIPPlan(
        name=spec.name,
        family="piip",
        img_size=size,
        in_chans=spec.in_chans,
        patch_size=p,
        branches=branches,
        cls_token=spec.cls_token,
        qkv_bias=spec.qkv_bias,
        layer_scale=spec.layer_scale,
        interactions=spec.interactions,
        deform_num_heads=spec.deform_num_heads,
        deform_points=spec.deform_points,
        deform_ratio=spec.deform_ratio,
        cffn_ratio=spec.cffn_ratio,
        output=spec.output,
        num_classes=spec.num_classes,
        warnings=_inversion_warning(branches),
        interaction_attn=spec.interaction_attn,
        units=units,
        unit_order=order,
    )


# --------------------------------------------------------------------------------- branches
def _branch_cost(b: BranchPlan, plan: PIIPPlan) -> CostNode:
    tokens = b.tokens + plan.cls_token
    kinds = {
        ws: vit_block_cost(
            b.dim,
            b.num_heads,
            mlp_ratio=b.mlp_ratio,
            window_size=ws,
            qkv_bias=b.qkv_bias,
            layer_scale=plan.layer_scale,
            qk_norm=b.qk_norm,
            norm=b.norm,
            hw=b.hw,
            tokens=b.tokens if ws else tokens,
        )
        for ws in set(b.windows)
    }
    blocks = CostNode.of([(str(i), kinds[ws]) for i, ws in enumerate(b.windows)])
    children = [
        (
            "patch_embed",
            patch_embed_cost(plan.in_chans, b.dim, plan.patch_size, hw=b.img_size),
        ),
        ("blocks", blocks),
    ]
    own = P.param_only(b.tokens * b.dim + (b.dim if plan.cls_token else 0))
    out_shape: tuple[int, ...] = (b.tokens, b.dim)
    if plan.output == "classification":
        normed = 1 if plan.cls_token else b.tokens
        children.append(("norm", CostNode.leaf(P.layer_norm(b.dim, b.dim * normed))))
        children.append(("head", CostNode.leaf(P.linear(b.dim, plan.num_classes, 1))))
        out_shape = (plan.num_classes,)
    return CostNode.of(children, own=own, out_shape=out_shape)


# ------------------------------------------------------------------------------ interactions
def _interactions_cost(plan: PIIPPlan) -> CostNode:
    bs = plan.branches
    units = CostNode.of(
        [
            (
                str(j),
                interaction_unit_cost(
                    bs[u.a].dim,
                    bs[u.b].dim,
                    **plan.unit_kwargs,
                    update=u.update,
                    a_hw=bs[u.a].hw,
                    b_hw=bs[u.b].hw,
                ),
            )
            for j, u in enumerate(plan.units)
        ]
    )
    block = CostNode.of([("units", units)])
    return CostNode.of([(str(k), block) for k in range(plan.interactions)])


# ----------------------------------------------------------------------------------- model
def cost_piip(plan: PIIPPlan) -> CostNode:
    """Analytic cost in hirisearch's convention, keyed by the builder's module paths."""
    branches = CostNode.of([(str(i), _branch_cost(b, plan)) for i, b in enumerate(plan.branches)])
    children = [("branches", branches)]
    if plan.interactions:
        children.append(("interactions", _interactions_cost(plan)))
    dims = tuple(b.dim for b in plan.branches)
    hws = tuple(b.hw for b in plan.branches)
    if plan.output == "merged":
        merge = merged_head_cost(dims, plan.num_classes, hws=hws)
        children.append(("merge", merge))
        out_shape: tuple[int, ...] = merge.out_shape
    elif plan.output == "dense":
        merge = dense_merge_cost(dims, hws=hws)
        children.append(("merge", merge))
        out_shape = merge.out_shape
    else:
        out_shape = (plan.num_classes,)
    if plan.outputs == "pyramid":
        children.append(("pyramid", simple_pyramid_cost(dims[0], hw=hws[-1])))
    return CostNode.of(children, out_shape=out_shape)


def dense_piip(plan: PIIPPlan) -> PIIPPlan:
    """The dense form: the detection merge (``output: dense``) and the four-level pyramid PIIP's
    detection backbone builds from it.

    Raises:
        SpecError: branch 1's width does not take GroupNorm(32).
    """
    if plan.branches[0].dim % GN_GROUPS:
        raise SpecError(
            f"PIIP's dense form uses GroupNorm({GN_GROUPS}) on branch 1's width; `dim % "
            f"{GN_GROUPS} == 0` must hold, but got dim={plan.branches[0].dim}",
            field="branches[0].dim",
        )
    return replace(plan, output="dense", outputs="pyramid")


def pyramid_piip(plan: PIIPPlan) -> Pyramid:
    """Branch 1's width at strides 4, 8, 16 and 32 (the merged map is at the last branch's
    stride-16 grid)."""
    dim, grids = plan.branches[0].dim, simple_pyramid_grids(plan.branches[-1].hw)
    return tuple(Level(dim, g, s) for g, s in zip(grids, (4, 8, 16, 32), strict=True))


def latency_specs() -> tuple[PIIPSpec, ...]:
    """Configurations whose whole networks calibrate the latency predictor: small ones, also
    timed module by module, then those of ``networks/piip.yaml``, sized as searches draw them:
    ``Family.latency_specs``."""

    def branch(img_size: int, dim: int, depth: int) -> PIIPBranchSpec:
        return PIIPBranchSpec.model_validate(
            dict(img_size=img_size, dim=dim, depth=depth, num_heads=dim // 64)
        )

    return calibration_specs(
        PIIPSpec,
        "piip",
        (
            dict(
                name="cal-2b-224",
                img_size=224,
                interactions=1,
                branches=(branch(128, 384, 2), branch(224, 192, 2)),
            ),
            dict(
                name="cal-2b-320",
                img_size=320,
                interactions=2,
                branches=(branch(160, 768, 2), branch(320, 192, 2)),
            ),
            dict(
                name="cal-3b-320",
                img_size=320,
                interactions=1,
                branches=(branch(96, 768, 2), branch(160, 384, 2), branch(320, 192, 2)),
            ),
            dict(
                name="cal-2b-384",
                img_size=384,
                interactions=1,
                branches=(branch(192, 384, 1), branch(384, 192, 1)),
            ),
            dict(
                name="cal-3b-448",
                img_size=448,
                interactions=2,
                branches=(branch(128, 768, 2), branch(256, 384, 2), branch(448, 192, 2)),
            ),
            *network_rows("piip"),
        ),
    )


def _test_sizes(spec: PIIPSpec) -> tuple[Size, ...]:
    """The spec's own size and a landscape one (height cut to about 3/4, as detection inputs
    are), where every branch is resized on each axis on its own."""
    h, w = as_hw(spec.img_size)
    p = spec.patch_size
    return (spec.img_size, (max(p, round(h * 3 / 4 / p) * p), w))


FAMILY = Family(
    name="piip",
    title="PIIP (parameter-inverted image pyramid)",
    spec_type=PIIPSpec,
    plan=plan_piip,
    build=LazyCallable("hirisearch.models.piip_nn", "build_piip"),
    cost=cost_piip,
    size_reason=size_reason,
    test_sizes=_test_sizes,
    forward_size=lambda spec: 64,
    conventions=(Convention("piip", piip_convention_description(), cost_piip_repo),),
    latency_specs=latency_specs,
    train=LazyCallable("hirisearch.models.piip_train", "train_piip"),
    train_dense=True,
    # the forward interleaves the branches' blocks with the interactions
    uncalled_stages=lambda plan: tuple(f"branches.{i}" for i in range(len(plan.branches))),
    dense=dense_piip,
    pyramid=pyramid_piip,
)
