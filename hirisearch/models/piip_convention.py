"""PIIP's own counting path, reproduced analytically (``--convention piip``).

OpenGVLab/PIIP computes its published GFLOPs (``classification/get_flops.py``) as:

1. an mmcv forward-hook counter over modules: Linear = input elements x output features (bias not
   counted); Conv = kernel MACs + one per output element for the bias; LayerNorm / GroupNorm =
   2 per element (affine); ReLU 1 per element; GELU, softmax, matmuls, ``F.interpolate``, RMSNorm
   (a custom module) and the deformable-attention CUDA op are invisible to it; so is flash-attn's
   ``FusedMLP`` (the script resets ``mlp_type`` to a plain MLP, but not the ``Mlp_block`` key of
   DeiT-style branches), and a module the forward never calls: upstream's forward runs a branch's
   blocks only up to its last interaction;
2. plus ``2 * N^2 * D`` per global attention layer (``N`` patch tokens, the class token left out)
   or ``2 * N * ws^2 * D`` per window layer, for every layer of the config; a window at least as
   large as the token grid is counted as global attention (see below);
3. plus ``5 * N_q * 4 * D_q`` per deformable direction, or ``2 * N_q * N_kv * D_q`` per regular
   cross-attention direction (query tokens and width of that direction);
4. detection backbones are counted with the *classification* class: GroupNorm -> Linear ->
   GroupNorm merge, LayerNorm, mean and a 1000-class head, position embeddings at full resolution,
   instead of the real two-conv merge; single-branch baselines (ViTDet, InternViT-6B) with the
   plain ViT classification class (final norm over all tokens, mean, 1000-class head).

The window rule: the released script applies ``2 * N * ws^2 * D`` literally, and no released
config has a window larger than its grid; the published rows with such branches (segmentation at
336 px with window 28, the from-scratch PIIP-B branch at 128 px) match only when that branch counts
as global attention, which is what a window clipped to the grid gives: ``2 * N * min(ws, H) *
min(ws, W) * D`` on an ``H x W`` grid (clipped on each axis; ``2 * N^2 * D`` once it covers both).

The tree keeps the plan's section paths; norms and ReLUs go to ``other`` because the published
total includes them. Parameters are those of the model the repository counts (for ``dense``
outputs: the classification class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hirisearch.cost.types import Cost, CostNode

if TYPE_CHECKING:
    from hirisearch.models.piip import BranchPlan, PIIPPlan
    from hirisearch.models.vit import ViTPlan

#: The head the repository's counting class carries for detection backbones.
REPO_HEAD_CLASSES = 1000


def piip_convention_description() -> str:
    return (
        "PIIP repo convention: hook MACs (no matmuls, LN/GN 2/element) + 2N^2D attention "
        "(windows clipped to the grid) + 5*Nq*4*Dq deformable; dense outputs counted with the "
        "classification class; omits RMSNorm, fused (flash-attn) MLPs and blocks after a "
        "branch's last interaction"
    )


def _linear(in_f: int, out_f: int, tokens: int, *, bias: bool = True, run: bool = True) -> Cost:
    return Cost(params=in_f * out_f + (out_f if bias else 0), linear=in_f * out_f * tokens * run)


def _norm(dim: int, elements: int, kind: str = "ln", *, run: bool = True) -> Cost:
    if kind == "rms":  # a custom module: parameters, no hook
        return Cost(params=dim)
    return Cost(params=2 * dim, other=2 * elements * run)


def _twice(cost: Cost) -> Cost:
    return cost + cost


def _leaf(cost: Cost) -> CostNode:
    return CostNode.leaf(cost)


def _attention_formula(hw: tuple[int, int], ws: int, dim: int) -> int:
    n = hw[0] * hw[1]
    if not ws:  # global
        return 2 * n * n * dim
    return 2 * n * min(ws, hw[0]) * min(ws, hw[1]) * dim  # the window clipped to the grid


def _block(
    b: BranchPlan | ViTPlan,
    d: int,
    ws: int,
    tokens: int,
    *,
    layer_scale: bool,
    fused_mlp: bool,
    run: bool,
) -> Cost:
    """One block of width ``d`` as the hook counter sees it on ``tokens`` tokens (``run``: the
    forward calls it), plus the attention formula (added from the config whether or not the
    block runs). ``b`` gives the block's form: ``mlp_ratio``, ``hw``, ``norm``, ``qkv_bias``,
    ``qk_norm``."""
    hidden = int(d * b.mlp_ratio)
    cost = (
        _twice(_norm(d, d * tokens, b.norm, run=run))  # norm1, norm2
        + _linear(d, 3 * d, tokens, bias=b.qkv_bias, run=run)
        + _linear(d, d, tokens, run=run)
        + _linear(d, hidden, tokens, run=run and not fused_mlp)
        + _linear(hidden, d, tokens, run=run and not fused_mlp)
        + Cost(params=2 * d if layer_scale else 0, attn=_attention_formula(b.hw, ws, d))
    )
    if b.qk_norm:
        cost = cost + _twice(_norm(d, d * tokens, b.norm, run=run))
    return cost


def _patch(in_chans: int, k: int, d: int, n: int) -> Cost:
    return Cost(params=in_chans * k * k * d + d, conv=in_chans * k * k * d * n + d * n)


def _branch(b: BranchPlan, plan: PIIPPlan) -> CostNode:
    d, n = b.dim, b.tokens
    tokens = n + plan.cls_token
    # upstream runs the blocks inside the interaction ranges only (with interactions)
    runs_until = b.segments[-1][0] if plan.interactions else b.depth
    blocks = [
        (
            str(i),
            _leaf(
                _block(
                    b,
                    d,
                    ws,
                    n if ws else tokens,
                    layer_scale=plan.layer_scale is not None,
                    fused_mlp=b.fused_mlp,
                    run=i < runs_until,
                )
            ),
        )
        for i, ws in enumerate(b.windows)
    ]
    children = [
        ("patch_embed", _leaf(_patch(plan.in_chans, plan.patch_size, d, n))),
        ("blocks", CostNode.of(blocks)),
    ]
    own = Cost(params=n * d + (d if plan.cls_token else 0))
    if plan.output == "classification":
        # upstream normalises all patch tokens, then reads one
        children.append(("norm", _leaf(_norm(d, d * n))))
        children.append(("head", _leaf(_linear(d, plan.num_classes, 1))))
    return CostNode.of(children, own=own)


def _injector(d: int, nq: int, nf: int, plan: PIIPPlan) -> Cost:
    hidden = int(d * plan.cffn_ratio)
    if plan.interaction_attn == "deformable":
        hp = plan.deform_num_heads * plan.deform_points
        value = int(d * plan.deform_ratio)
        attn = (
            _linear(d, 2 * hp, nq)
            + _linear(d, hp, nq)
            + _linear(d, value, nf)
            + _linear(value, d, nq)
            + Cost(attn=5 * nq * plan.deform_points * d)
        )
    else:  # regular cross-attention: q, k, v without bias, proj with bias
        attn = (
            _linear(d, d, nq, bias=False)
            + _twice(_linear(d, d, nf, bias=False))
            + _linear(d, d, nq)
            + Cost(attn=2 * nq * nf * d)
        )
    return (
        _twice(_norm(d, d * nq))  # query_norm, ffn_norm
        + _norm(d, d * nf)  # feat_norm
        + attn
        + Cost(params=2 * d)  # gammas
        + _linear(d, hidden, nq)
        + Cost(params=hidden * 9 + hidden, conv=hidden * 9 * nq + hidden * nq)
        + _linear(hidden, d, nq)
    )


def _interactions(plan: PIIPPlan) -> CostNode:
    bs = plan.branches
    units = []
    for j, u in enumerate(plan.units):
        a, b = bs[u.a], bs[u.b]
        cost = Cost()
        if u.update != "b":  # into a: project b's tokens to a's width, inject
            cost = (
                cost + _linear(b.dim, a.dim, b.tokens) + _injector(a.dim, a.tokens, b.tokens, plan)
            )
        if u.update != "a":
            cost = (
                cost + _linear(a.dim, b.dim, a.tokens) + _injector(b.dim, b.tokens, a.tokens, plan)
            )
        units.append((str(j), _leaf(cost)))
    block = CostNode.of([("units", CostNode.of(units))])
    return CostNode.of([(str(k), block) for k in range(plan.interactions)])


def _merge(plan: PIIPPlan) -> CostNode:
    """The classification class's merge, named as :func:`~hirisearch.layers.pyramid_merge.
    merged_head_cost` names it (``projs``, ``norm``, ``head``)."""
    bs = plan.branches
    d1 = bs[0].dim
    projs = _norm(d1, d1 * bs[0].tokens) + Cost(params=len(bs))  # + the branch weights
    for b in bs[1:]:
        n = b.tokens
        projs = projs + _norm(b.dim, b.dim * n) + _linear(b.dim, d1, n) + _norm(d1, d1 * n)
    classes = plan.num_classes if plan.output == "merged" else REPO_HEAD_CLASSES
    return CostNode.of(
        [
            ("projs", _leaf(projs)),
            ("norm", _leaf(_norm(d1, d1 * bs[-1].tokens))),
            ("head", _leaf(_linear(d1, classes, 1))),
        ]
    )


def cost_piip_repo(plan: PIIPPlan) -> CostNode:
    """The cost PIIP's repository reports for ``plan`` (see the module docstring)."""
    branches = CostNode.of([(str(i), _branch(b, plan)) for i, b in enumerate(plan.branches)])
    children = [("branches", branches)]
    if plan.interactions:
        children.append(("interactions", _interactions(plan)))
    if plan.output != "classification":
        children.append(("merge", _merge(plan)))
    return CostNode.of(children)


def cost_vit_repo(plan: ViTPlan) -> CostNode:
    """The cost PIIP's repository reports for a single-branch ViT baseline (ViTDet, InternViT-6B):
    its plain ViT classification class, counted as in the module docstring."""
    d, t = plan.embed_dim, plan.tokens
    n = plan.hw[0] * plan.hw[1]
    blocks = [
        (
            str(i),
            _leaf(
                _block(
                    plan,
                    d,
                    ws,
                    t,
                    layer_scale=plan.layer_scale is not None,
                    fused_mlp=False,
                    run=True,
                )
            ),
        )
        for i, ws in enumerate(plan.windows)
    ]
    norm_path = "norm" if plan.global_pool == "token" else "fc_norm"
    children = [
        ("patch_embed", _leaf(_patch(plan.in_chans, plan.patch_size, d, n))),
        ("blocks", CostNode.of(blocks)),
        (norm_path, _leaf(_norm(d, d * t, plan.norm))),  # over all tokens, then pooled
    ]
    if plan.num_classes:
        children.append(("head", _leaf(_linear(d, plan.num_classes, 1))))
    own = Cost(params=t * d + (d if plan.class_token else 0))
    return CostNode.of(children, own=own)
