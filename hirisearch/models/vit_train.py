"""Training twin of timm's ``VisionTransformer`` as :mod:`hirisearch.models.vit` plans it: the
operators of its forward pass, in order, on a :class:`~hirisearch.train.tape.Tape` (what each
keeps for the backward pass), at timm's module paths."""

from __future__ import annotations

from hirisearch.errors import TrainError
from hirisearch.layers.mlp import mlp_train
from hirisearch.models.vit import ViTPlan
from hirisearch.train.tape import Sym, Tape

__all__ = ["train_gaps", "train_vit", "timm_block_train", "drop_path_rates"]


def train_gaps(plan: ViTPlan) -> list[str]:
    """The forms of ``plan`` this twin does not model (empty: all modelled): it follows timm's
    blocks only."""
    gaps = []
    if any(plan.windows):
        gaps.append("windowed attention")
    if plan.norm != "ln":
        gaps.append("RMSNorm blocks")
    if plan.qk_norm:
        gaps.append("QK-norm")
    if plan.layer_scale is not None:
        gaps.append("layer scale")
    return gaps


def drop_path_rates(rate: float, depth: int) -> list[float]:
    """timm's stochastic-depth rule: rates rising linearly from 0 to ``rate`` over the blocks."""
    if depth == 1:
        return [0.0]
    return [rate * i / (depth - 1) for i in range(depth)]


def timm_attention_train(t: Tape, x: Sym, dim: int, heads: int, tokens: int, bias: bool) -> Sym:
    """timm's ``Attention`` (fused): qkv, attention on views of the qkv output, the head
    transpose copied for ``proj``."""
    with t.module("qkv"):
        qkv = t.linear(x, dim, 3 * dim, bias=bias)
    q = t.view(qkv, tokens * dim)
    merged = t.attention(q, q, q, heads=heads, nq=tokens, nk=tokens, head_dim=dim // heads)
    with t.module("proj"):
        return t.linear(merged, dim, dim)


def timm_block_train(
    t: Tape, x: Sym, *, dim: int, heads: int, tokens: int, mlp_ratio: float, bias: bool, dp: float
) -> Sym:
    """timm's pre-norm ``Block`` (no layer scale): ``x += attn(norm1(x)); x += mlp(norm2(x))``."""
    with t.module("norm1"):
        h = t.layer_norm(x, dim)
    with t.module("attn"):
        h = timm_attention_train(t, h, dim, heads, tokens, bias)
    with t.module("drop_path1"):
        h = t.drop_path(h, dp)
    x = t.add(x, h)
    with t.module("norm2"):
        h = t.layer_norm(x, dim)
    with t.module("mlp"):
        h = mlp_train(t, h, dim, int(dim * mlp_ratio), dw_conv=False, hw=(1, tokens))
    with t.module("drop_path2"):
        h = t.drop_path(h, dp)
    return t.add(x, h)


def train_vit(plan: ViTPlan, t: Tape) -> Sym | list[Sym]:
    """The forward pass of the model ``plan`` describes; returns its output (the dense form: the
    last block's grid tokens as one map, no final norm, no head)."""
    gaps = train_gaps(plan)
    if gaps:
        raise TrainError(f"training cost of {plan.name!r} not modelled: {'; '.join(gaps)}")
    d, n = plan.embed_dim, plan.tokens
    grid = plan.hw[0] * plan.hw[1]
    x = t.image(plan.in_chans * plan.img_size[0] * plan.img_size[1])
    if plan.padded_img != plan.img_size:
        x = t.copy(x, plan.in_chans * plan.padded_img[0] * plan.padded_img[1])
    with t.module("patch_embed"), t.module("proj"):
        t.no_input_grad.append(t.path)
        x = t.conv(x, plan.in_chans, d, plan.patch_size, grid * d, bias=True)
    pos = t.parameter(n * d)
    if plan.class_token:
        cls = t.parameter(d)
        x = t.cat([cls, x], n=n * d)
        t.use_param(cls)
    x = t.add(x, pos)
    t.use_param(pos)
    with t.module("blocks"):
        rates = drop_path_rates(plan.drop_path_rate, plan.depth)
        for i, (dp, (heads, ratio)) in enumerate(zip(rates, plan.blocks, strict=True)):
            with t.module(i, inputs=[x]):
                x = timm_block_train(
                    t,
                    x,
                    dim=d,
                    heads=heads,
                    tokens=n,
                    mlp_ratio=ratio,
                    bias=plan.qkv_bias,
                    dp=dp,
                )
    if plan.outputs == "pyramid":
        # the grid tokens (past any class token), transpose(1, 2).reshape(b, d, h, w): all views
        return [t.view(x, grid * d, strided=True)]
    if plan.global_pool == "token":
        with t.module("norm"):
            x = t.layer_norm(x, d)
        x = t.view(x, d)  # the class token: a view of the whole normalised map
    else:
        x = t.copy(x, d)  # mean over the tokens
        with t.module("fc_norm"):
            x = t.layer_norm(x, d)
    if plan.num_classes:
        with t.module("head"):
            x = t.linear(x, d, plan.num_classes)
    return x
