"""Training twin of PIIP as :mod:`hirisearch.models.piip` plans it (see
:mod:`hirisearch.train.tape`).

The branches run their block segments in turn, the interactions between them; with the
classification output and class tokens, the logits read the class tokens only, so the
interactions after the last blocks never reach the loss (no backward, nothing kept).

Layout matters to what the interactions' projections keep (:meth:`Tape.linear`): without class
tokens a branch's tokens keep the transposed layout of its patch embedding through every residual
sum (each sum takes its first operand's layout), and with them the patch tokens are a view past
the class token; either way a projection copies them (a branch of one token excepted).
"""

from __future__ import annotations

from hirisearch.errors import TrainError
from hirisearch.layers.interaction import interaction_unit_train
from hirisearch.layers.pyramid_merge import dense_merge_train, merged_head_train
from hirisearch.layers.simple_pyramid import simple_pyramid_train
from hirisearch.layers.vit import vit_block_train
from hirisearch.models.piip import BranchPlan, PIIPPlan, UnitPlan
from hirisearch.train.tape import Sym, Tape

__all__ = ["train_gaps", "train_piip"]


def train_gaps(plan: PIIPPlan) -> list[str]:
    """The forms of ``plan`` this twin does not model (empty: all modelled)."""
    gaps = []
    if plan.interaction_attn != "deformable":
        gaps.append(f"{plan.interaction_attn} interaction attention")
    adjacent = tuple(UnitPlan(j, j + 1) for j in range(len(plan.branches) - 1))
    if plan.units != adjacent or plan.unit_order != tuple(reversed(range(len(adjacent)))):
        gaps.append("interaction units other than adjacent pairs updated both ways")
    if any(b.norm != "ln" for b in plan.branches):
        gaps.append("RMSNorm blocks")
    if any(b.qk_norm for b in plan.branches):
        gaps.append("QK-norm")
    return gaps


def _run(t: Tape, x: Sym, cls: Sym | None, b: BranchPlan, plan: PIIPPlan, k: int) -> tuple:
    """Blocks of segment ``k`` of branch ``b``: the class token joins the patch tokens (a
    concatenation) and leaves as a view."""
    start, stop = b.segments[k]
    if start == stop:
        return x, cls
    tokens = b.tokens + (cls is not None)
    if cls is not None:
        x = t.cat([cls, x], n=tokens * b.dim)
    with t.module("blocks"):
        for i in range(start, stop):
            ws = b.windows[i]
            with t.module(i, inputs=[x]):
                x = vit_block_train(
                    t,
                    x,
                    b.dim,
                    b.num_heads,
                    mlp_ratio=b.mlp_ratio,
                    window_size=ws,
                    qkv_bias=plan.qkv_bias,
                    layer_scale=plan.layer_scale,
                    hw=b.hw,
                    tokens=b.tokens if ws else tokens,
                )
    if cls is None:
        return t.view(x, strided=b.tokens > 1), None
    # the patch tokens past the class token: a view a matmul must copy (unless it is one token)
    return t.view(x, b.tokens * b.dim, strided=b.tokens > 1), t.view(x, b.dim)


def _interaction(t: Tape, xs: list[Sym], plan: PIIPPlan) -> list[Sym]:
    bs = plan.branches
    with t.module("units"):
        for j in reversed(range(len(bs) - 1)):
            a, b = bs[j], bs[j + 1]
            with t.module(j):
                xs[j], xs[j + 1] = interaction_unit_train(
                    t,
                    xs[j],
                    xs[j + 1],
                    a.dim,
                    b.dim,
                    **{k: v for k, v in plan.unit_kwargs.items() if k != "attn"},
                    a_hw=a.hw,
                    b_hw=b.hw,
                )
            if not plan.cls_token:  # the sums keep the transposed layout
                xs[j] = t.view(xs[j], strided=a.tokens > 1)
                xs[j + 1] = t.view(xs[j + 1], strided=b.tokens > 1)
    return xs


def _dead(plan: PIIPPlan, k: int) -> bool:
    """Interaction ``k``'s outputs reach no loss: only class tokens are read after it."""
    if plan.output != "classification" or not plan.cls_token:
        return False
    return all(
        b.segments[m][0] == b.segments[m][1]
        for b in plan.branches
        for m in range(k + 1, plan.interactions + 1)
    )


def train_piip(plan: PIIPPlan, t: Tape) -> Sym | list[Sym]:
    """The forward pass of the model ``plan`` describes; returns its output (the dense form: the
    detection merge, then the four-level pyramid)."""
    gaps = train_gaps(plan)
    if gaps:
        raise TrainError(f"training cost of {plan.name!r} not modelled: {'; '.join(gaps)}")
    x = t.image(plan.in_chans * plan.img_size[0] * plan.img_size[1])
    xs: list[Sym] = []
    clss: list[Sym | None] = []
    with t.module("branches"):
        for i, b in enumerate(plan.branches):
            bh, bw = b.img_size
            xi = x if b.img_size == plan.img_size else t.copy(x, plan.in_chans * bh * bw)
            with t.module(i), t.module("patch_embed"), t.module("proj"):
                t.no_input_grad.append(t.path)
                y = t.conv(xi, plan.in_chans, b.dim, plan.patch_size, b.tokens * b.dim, bias=True)
            pos = t.parameter(b.tokens * b.dim)
            # patch tokens (a transposed view of the map) + position: the transposed layout
            xs.append(t.view(t.add(y, pos), strided=b.tokens > 1))
            t.use_param(pos)
            cls = t.parameter(b.dim) if plan.cls_token else None
            if cls is not None:
                t.use_param(cls)
            clss.append(cls)
    for k in range(plan.interactions + 1):
        with t.module("branches"):
            for i, b in enumerate(plan.branches):
                with t.module(i):
                    xs[i], clss[i] = _run(t, xs[i], clss[i], b, plan, k)
        if k < plan.interactions:
            with t.module("interactions"), t.module(k):
                if _dead(plan, k):
                    with t.unused():
                        _interaction(t, list(xs), plan)
                else:
                    xs = _interaction(t, xs, plan)
    dims = tuple(b.dim for b in plan.branches)
    hws = tuple(b.hw for b in plan.branches)
    if plan.output == "classification":
        logits = []
        with t.module("branches"):
            for i, b in enumerate(plan.branches):
                with t.module(i):
                    cls = clss[i]
                    with t.module("norm"):
                        feat = t.layer_norm(cls if cls is not None else xs[i], b.dim)
                    if cls is None:
                        feat = t.copy(feat, b.dim)  # mean over the tokens
                    with t.module("head"):
                        logits.append(t.linear(feat, b.dim, plan.num_classes))
        return t.copy(t.cat(logits), plan.num_classes)  # stacked, averaged
    with t.module("merge"):
        if plan.output == "merged":
            return merged_head_train(t, xs, dims, plan.num_classes, hws=hws)
        out = dense_merge_train(t, xs, dims, hws=hws)
    if plan.outputs != "pyramid":
        return out
    with t.module("pyramid"):  # the dense form: the detection backbone's four levels
        return simple_pyramid_train(t, out, dims[0], hw=hws[-1])
