"""PIIP's own counting path, reproduced analytically (``--convention piip``).

OpenGVLab/PIIP computes its published GFLOPs (``classification/get_flops.py``) as:

1. an mmcv forward-hook counter over modules: Linear = input elements x output features (bias not
   counted); Conv = kernel MACs + one per output element for the bias; LayerNorm / GroupNorm =
   2 per element (affine); ReLU 1 per element; GELU, softmax, matmuls, ``F.interpolate`` and the
   deformable-attention CUDA op are invisible to it;
2. plus ``2 * N^2 * D`` per global attention layer (``N`` patch tokens, the class token left out)
   or ``2 * N * ws^2 * D`` per window layer;
3. plus ``5 * N_q * 4 * D_q`` per deformable direction (query tokens and width of that direction);
4. detection backbones are counted with the *classification* class: GroupNorm -> Linear ->
   GroupNorm merge, LayerNorm, mean and a 1000-class head, position embeddings at full resolution,
   instead of the real two-conv merge.

The tree keeps the plan's section paths; norms and ReLUs go to ``other`` because the published
total includes them. Parameters are those of the model the repository counts (for ``dense``
outputs: the classification class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hirisearch.cost.types import Cost, CostNode

if TYPE_CHECKING:
    from hirisearch.models.piip import BranchPlan, PIIPPlan

#: The head the repository's counting class carries for detection backbones.
REPO_HEAD_CLASSES = 1000


def piip_convention_description() -> str:
    return (
        "PIIP repo convention: hook MACs (no matmuls, norms 2/element) + 2N^2D attention "
        "+ 5*Nq*4*Dq deformable; dense outputs counted with the classification class"
    )


def _linear(in_f: int, out_f: int, tokens: int, *, bias: bool = True) -> Cost:
    return Cost(params=in_f * out_f + (out_f if bias else 0), linear=in_f * out_f * tokens)


def _norm(dim: int, elements: int) -> Cost:
    return Cost(params=2 * dim, other=2 * elements)


def _leaf(cost: Cost) -> CostNode:
    return CostNode.leaf(cost)


def _branch(b: BranchPlan, plan: PIIPPlan) -> CostNode:
    d, n = b.dim, b.tokens
    tokens = n + plan.cls_token
    k = plan.patch_size
    patch = Cost(params=plan.in_chans * k * k * d + d, conv=plan.in_chans * k * k * d * n + d * n)
    hidden = int(d * b.mlp_ratio)
    blocks = []
    for i, ws in enumerate(b.windows):
        t = n if ws else tokens
        attn = 2 * n * ws * ws * d if ws else 2 * n * n * d
        cost = (
            _norm(d, d * t)  # norm1
            + _norm(d, d * t)  # norm2
            + _linear(d, 3 * d, t, bias=plan.qkv_bias)
            + _linear(d, d, t)
            + _linear(d, hidden, t)
            + _linear(hidden, d, t)
            + Cost(params=(2 * d if plan.layer_scale is not None else 0), attn=attn)
        )
        blocks.append((str(i), _leaf(cost)))
    children = [("patch_embed", _leaf(patch)), ("blocks", CostNode.of(blocks))]
    own = Cost(params=n * d + (d if plan.cls_token else 0))
    if plan.output == "classification":
        # upstream normalises all patch tokens, then reads one
        children.append(("norm", _leaf(_norm(d, d * n))))
        children.append(("head", _leaf(_linear(d, plan.num_classes, 1))))
    return CostNode.of(children, own=own)


def _injector(d: int, nq: int, nf: int, plan: PIIPPlan) -> Cost:
    hp = plan.deform_num_heads * plan.deform_points
    value = int(d * plan.deform_ratio)
    hidden = int(d * plan.cffn_ratio)
    return (
        Cost(params=4 * d, other=2 * d * nq * 2)  # query_norm, ffn_norm
        + _norm(d, d * nf)  # feat_norm
        + _linear(d, 2 * hp, nq)
        + _linear(d, hp, nq)
        + _linear(d, value, nf)
        + _linear(value, d, nq)
        + Cost(attn=5 * nq * plan.deform_points * d)
        + Cost(params=2 * d)  # gammas
        + _linear(d, hidden, nq)
        + Cost(params=hidden * 9 + hidden, conv=hidden * 9 * nq + hidden * nq)
        + _linear(hidden, d, nq)
    )


def _interactions(plan: PIIPPlan) -> CostNode:
    bs = plan.branches
    units = []
    for j, (a, b) in enumerate(zip(bs, bs[1:], strict=False)):
        na, nb = a.tokens, b.tokens
        cost = (
            _linear(b.dim, a.dim, nb)
            + _linear(a.dim, b.dim, na)
            + _injector(a.dim, na, nb, plan)
            + _injector(b.dim, nb, na, plan)
        )
        units.append((str(j), _leaf(cost)))
    block = CostNode.of([("units", CostNode.of(units))])
    return CostNode.of([(str(k), block) for k in range(plan.interactions)])


def _merge(plan: PIIPPlan) -> CostNode:
    bs = plan.branches
    d1 = bs[0].dim
    cost = _norm(d1, d1 * bs[0].tokens) + Cost(params=len(bs))
    for b in bs[1:]:
        n = b.tokens
        cost = cost + _norm(b.dim, b.dim * n) + _linear(b.dim, d1, n) + _norm(d1, d1 * n)
    classes = plan.num_classes if plan.output == "merged" else REPO_HEAD_CLASSES
    cost = cost + _norm(d1, d1 * bs[-1].tokens) + _linear(d1, classes, 1)
    return _leaf(cost)


def cost_piip_repo(plan: PIIPPlan) -> CostNode:
    """The cost PIIP's repository reports for ``plan`` (see the module docstring)."""
    branches = CostNode.of([(str(i), _branch(b, plan)) for i, b in enumerate(plan.branches)])
    children = [("branches", branches)]
    if plan.interactions:
        children.append(("interactions", _interactions(plan)))
    if plan.output != "classification":
        children.append(("merge", _merge(plan)))
    return CostNode.of(children)
