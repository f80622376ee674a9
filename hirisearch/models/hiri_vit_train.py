"""Training twin of HIRI-ViT as :mod:`hirisearch.models.hiri_vit` plans it (see
:mod:`hirisearch.train.tape`). The model runs channels-last, so its map <-> token reshapes are
views; the image's channels-last copy is the stem's input."""

from __future__ import annotations

from hirisearch.layers.conv import conv_norm_act_train
from hirisearch.layers.hr_block import hr_block_train
from hirisearch.layers.irds import irds_train
from hirisearch.layers.norm_act import norm_train
from hirisearch.layers.transformer import class_block_train, transformer_block_train
from hirisearch.models.hiri_vit import HeadPlan, HiriViTPlan, StagePlan, StemPlan
from hirisearch.train.tape import Sym, Tape

__all__ = ["train_hiri_vit"]


def _hr_stem(t: Tape, x: Sym, p: StemPlan) -> Sym:
    cm, c = p.stem_chs, p.out_chs
    with t.module("conv"):
        t.no_input_grad.append(f"{t.path}.conv")
        x, mid = conv_norm_act_train(t, x, p.in_chans, cm, 3, 2, norm=p.norm, act=p.act, hw=p.hw)
    with t.module("hr"):
        with t.module(0):
            h, hw = conv_norm_act_train(t, x, cm, cm, 3, 2, groups=cm, norm=p.norm, hw=mid)
        with t.module(1):
            h, _ = conv_norm_act_train(t, h, cm, c, 1, norm=p.norm, hw=hw)
    with t.module("lr"):
        act = p.act if p.lr_convs > 1 else None
        with t.module(0):
            low, hw = conv_norm_act_train(t, x, cm, c, 3, 2, norm=p.norm, act=act, hw=mid)
        for j in range(1, p.lr_convs):
            act = None if j == p.lr_convs - 1 else p.act
            with t.module(j):
                low, _ = conv_norm_act_train(t, low, c, c, 3, norm=p.norm, act=act, hw=hw)
    return t.add(h, low)


def _conv_stem(t: Tape, x: Sym, p: StemPlan) -> Sym:
    cm, c = p.stem_chs, p.out_chs
    with t.module("conv"):
        with t.module(0):
            t.no_input_grad.append(f"{t.path}.conv")
            x, hw = conv_norm_act_train(t, x, p.in_chans, cm, 7, 2, norm=p.norm, act=p.act, hw=p.hw)
        for j in (1, 2):
            with t.module(j):
                x, hw = conv_norm_act_train(t, x, cm, cm, 3, norm=p.norm, act=p.act, hw=hw)
    out_hw = ((hw[0] + 1) // 2, (hw[1] + 1) // 2)
    with t.module("proj"):
        x = t.conv(x, cm, c, 3, c * out_hw[0] * out_hw[1], bias=True)
    with t.module("norm"):
        return norm_train(t, x, p.token_norm, c)


def _stage(t: Tape, x: Sym, p: StagePlan, plan: HiriViTPlan) -> Sym:
    d = p.downsample
    if d is not None:
        with t.module("downsample"):
            x = irds_train(
                t,
                x,
                d.in_chs,
                d.out_chs,
                hidden=d.hidden,
                variant=d.variant,
                norm=d.norm,
                act=d.act,
                hw=d.hw,
            )
    with t.module("blocks"):
        for i, dp in enumerate(p.drop_path):
            with t.module(i, inputs=[x]):
                if p.block_type == "transformer":
                    x = transformer_block_train(
                        t,
                        x,
                        p.dim,
                        p.num_heads[i],
                        mlp_ratio=p.mlp_ratios[i],
                        sr_ratio=p.sr_ratio,
                        qkv_bias=plan.qkv_bias,
                        norm=plan.token_norm,
                        act=plan.act,
                        drop_path=dp,
                        hw=p.hw,
                    )
                else:
                    x = hr_block_train(
                        t,
                        x,
                        p.dim,
                        mlp_ratio=p.mlp_ratios[i],
                        cffn=plan.hr_cffn,
                        norm=plan.conv_norm,
                        act=plan.act,
                        drop_path=dp,
                        hw=p.hw,
                    )
    return x


def _head(t: Tape, x: Sym, p: HeadPlan, plan: HiriViTPlan) -> Sym:
    tokens = p.hw[0] * p.hw[1]
    if p.head_type == "class_attn":
        cls = t.parameter(p.dim)
        x = t.cat([cls, x], n=(tokens + 1) * p.dim)
        t.use_param(cls)
        with t.module("block"):
            x = class_block_train(
                t,
                x,
                p.dim,
                p.num_heads,
                mlp_ratio=p.mlp_ratio,
                qkv_bias=plan.qkv_bias,
                norm=plan.token_norm,
                act=plan.act,
                tokens=tokens + 1,
            )
    else:
        x = t.copy(x, p.dim)  # mean over the map
    with t.module("norm"):
        x = norm_train(t, x, plan.token_norm, p.dim)
    if p.num_classes:
        with t.module("fc"):
            x = t.linear(x, p.dim, p.num_classes)
    return x


def train_hiri_vit(plan: HiriViTPlan, t: Tape) -> Sym | list[Sym]:
    """The forward pass of the model ``plan`` describes; returns its output (the dense form:
    the maps of stages ``out_indices``, each through its norm, finest first)."""
    x = t.image(plan.in_chans * plan.img_size[0] * plan.img_size[1])
    x = t.copy(x)  # channels-last copy of the image
    with t.module("stem"):
        x = (
            _hr_stem(t, x, plan.stem)
            if plan.stem.stem_type == "hr"
            else _conv_stem(t, x, plan.stem)
        )
    dense = plan.outputs == "pyramid"
    norms = dict(zip(plan.out_indices, plan.out_norms, strict=False))
    outs: list[Sym] = []
    for i, p in enumerate(plan.stages):
        with t.module("stages"), t.module(i, inputs=[x]):
            x = _stage(t, x, p, plan)
        if dense and i in plan.out_indices:
            if i in norms:
                with t.module(norms[i]):
                    outs.append(norm_train(t, x, plan.out_norm, p.dim))  # type: ignore[arg-type]
            else:
                outs.append(x)
    if dense:
        return outs
    with t.module("head"):
        return _head(t, x, plan.head, plan)
