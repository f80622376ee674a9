"""Training twin of ResFormer as :mod:`hirisearch.models.resformer` plans it (see
:mod:`hirisearch.train.tape`)."""

from __future__ import annotations

from hirisearch.layers.mlp import mlp_train
from hirisearch.models.resformer import ResFormerPlan
from hirisearch.train.tape import Sym, Tape

__all__ = ["train_resformer"]


def _gl_attention(t: Tape, x: Sym, plan: ResFormerPlan) -> Sym:
    """Global attention plus the local positional conv over V's grid."""
    d, n, heads = plan.embed_dim, plan.tokens, plan.num_heads
    hd = d // heads
    with t.module("qkv"):
        qkv = t.linear(x, d, 3 * d, bias=plan.qkv_bias)
    q = t.view(qkv, n * d)
    out = t.attention(q, q, q, heads=heads, nq=n, nk=n, head_dim=hd)
    grid = t.copy(t.view(qkv, (n - 1) * d))  # V's patch tokens as (b * heads, hd, H, W)
    with t.module("lpe"):
        local = t.conv(grid, hd, hd, 3, (n - 1) * d, groups=hd, bias=True)
    patches = t.add(t.view(out, (n - 1) * d), local)
    out = t.cat([t.view(out, d), patches])
    merged = t.copy(out)  # out.transpose(1, 2).reshape(b, n, c)
    with t.module("proj"):
        return t.linear(merged, d, d)


def train_resformer(plan: ResFormerPlan, t: Tape) -> Sym | list[Sym]:
    """The forward pass of the model ``plan`` describes; returns its output (the dense form: the
    last block's grid tokens as one map, no final norm, no head)."""
    d, n = plan.embed_dim, plan.tokens
    grid = plan.hw[0] * plan.hw[1]
    (ih, iw), (ph, pw) = plan.img_size, plan.padded_img
    x = t.image(plan.in_chans * ih * iw)
    if (ph, pw) != (ih, iw):
        x = t.copy(x, plan.in_chans * ph * pw)
    with t.module("patch_embed"):
        t.no_input_grad.append(t.path)
        x = t.conv(x, plan.in_chans, d, plan.patch_size, grid * d, bias=True)
    with t.module("gpe"), t.module("proj"):
        t.no_input_grad.append(t.path)
        sincos = t.new(grid * d, x.b, grad=False, shared=True)  # the grid's sine-cosine embedding
        pe = t.conv(sincos, d, d, 3, grid * d, groups=d, bias=True)
    x = t.add(x, pe)
    cls = t.parameter(d)
    x = t.cat([cls, x], n=n * d)
    t.use_param(cls)
    with t.module("blocks"):
        for i, dp in enumerate(plan.drop_path):
            with t.module(i, inputs=[x]):
                with t.module("norm1"):
                    h = t.layer_norm(x, d)
                with t.module("attn"):
                    h = _gl_attention(t, h, plan)
                with t.module("drop_path"):
                    h = t.drop_path(h, dp)
                x = t.add(x, h)
                with t.module("norm2"):
                    h = t.layer_norm(x, d)
                with t.module("mlp"):
                    h = mlp_train(t, h, d, int(d * plan.mlp_ratio), dw_conv=False, hw=(1, 1))
                with t.module("drop_path"):
                    h = t.drop_path(h, dp)
                x = t.add(x, h)
    if plan.outputs == "pyramid":
        # the grid tokens past the class token, transpose(1, 2).reshape(b, d, h, w): all views
        return [t.view(x, grid * d, strided=True)]
    with t.module("norm"):
        x = t.layer_norm(x, d)
    x = t.view(x, d)  # the class token
    if plan.num_classes:
        with t.module("head"):
            x = t.linear(x, d, plan.num_classes)
    return x
