"""Training twin of HRViT as :mod:`hirisearch.models.hrvit` plans it (see
:mod:`hirisearch.train.tape`)."""

from __future__ import annotations

from hirisearch.layers.conv import conv_norm_act_train
from hirisearch.layers.cross_shaped import cross_shaped_attention_train
from hirisearch.layers.hrnet import hr_fusion_train, hrnet_classifier_train
from hirisearch.layers.mix_ffn import des_train, mix_cfn_train
from hirisearch.models.hrvit import BranchPlan, HRViTPlan
from hirisearch.train.tape import Sym, Tape

__all__ = ["train_hrvit"]


def _block(t: Tape, x: Sym, p: BranchPlan, dp: float) -> Sym:
    """``x = x + attn(norm1(x)) + des(x); x = x + ffn(norm2(x))``."""
    dim = p.dim
    with t.module("norm1"):
        h = t.layer_norm(x, dim)
    with t.module("attn"):
        h = cross_shaped_attention_train(t, h, dim, p.head_dim, p.window_size, hw=p.hw)
    with t.module("des"):
        s = des_train(t, x, dim, dim)
    with t.module("drop_path"):
        h = t.drop_path(t.add(h, s), dp)
    x = t.add(x, h)
    with t.module("norm2"):
        h = t.layer_norm(x, dim)
    with t.module("ffn"):
        h = mix_cfn_train(t, h, dim, int(dim * p.mlp_ratio), hw=p.hw)
    with t.module("drop_path"):
        h = t.drop_path(h, dp)
    return t.add(x, h)


def _branch(t: Tape, x: Sym, p: BranchPlan) -> Sym:
    n = p.hw[0] * p.hw[1]
    with t.module("embed"):
        with t.module(0):
            x = t.conv(x, p.in_chs, p.dim, 1, n * p.dim, bias=True)
        with t.module(1):
            x = t.conv(x, p.dim, p.dim, 3, n * p.dim, groups=p.dim, bias=True)
    with t.module("embed_norm"):
        x = t.layer_norm(x, p.dim)
    with t.module("blocks"):
        for i, dp in enumerate(p.drop_path):
            with t.module(i, inputs=[x]):
                x = _block(t, x, p, dp)
    with t.module("norm"):
        return t.layer_norm(x, p.dim)


def train_hrvit(plan: HRViTPlan, t: Tape) -> Sym | list[Sym]:
    """The forward pass of the model ``plan`` describes; returns its output (the dense form:
    the last group's branch maps, finest first)."""
    x = t.image(plan.in_chans * plan.img_size[0] * plan.img_size[1])
    mid = plan.stem_chs // 2
    with t.module("stem"):
        with t.module("conv1"):
            t.no_input_grad.append(f"{t.path}.conv")
            x, hw = conv_norm_act_train(
                t, x, plan.in_chans, mid, 3, 2, bias=True, act="relu", hw=plan.img_size
            )
        with t.module("conv2"):
            x, hw = conv_norm_act_train(
                t, x, mid, plan.stem_chs, 3, 2, bias=True, act="relu", hw=hw
            )
    xs = [x]
    with t.module("groups"):
        for i, g in enumerate(plan.groups):
            with t.module(i, inputs=xs):
                with t.module("fusion"):
                    xs = hr_fusion_train(t, xs, g.fusion_in, g.fusion_out, g.in_hws, g.out_hws)
                with t.module("branches"):
                    outs = []
                    for j, (b, x) in enumerate(zip(g.branches, xs, strict=True)):
                        with t.module(j, inputs=[x]):
                            outs.append(_branch(t, x, b))
                    xs = outs
    if plan.outputs == "pyramid":
        return xs
    h = plan.head
    with t.module("head"):
        return hrnet_classifier_train(
            t,
            xs,
            h.in_chs,
            h.head_chs,
            expansion=h.expansion,
            final_chs=h.final_chs,
            num_classes=h.num_classes,
            hws=h.hws,
        )
