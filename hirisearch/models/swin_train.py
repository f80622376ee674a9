"""Training twin of timm's ``SwinTransformer`` as :mod:`hirisearch.models.swin` plans it (see
:mod:`hirisearch.train.tape`), at timm's module paths.

timm runs Swin's window attention on its explicit path (its fused path is marked experimental):
``q * scale @ k^T``, plus the relative position bias (fp32, so the scores turn fp32 under
autocast) and the shift mask, ``nn.Softmax``, then ``@ v``; the cyclic shift, the padding and the
window partition are copies.
"""

from __future__ import annotations

from hirisearch.layers.mlp import mlp_train
from hirisearch.models.swin import SwinPlan, SwinStagePlan
from hirisearch.models.vit_train import drop_path_rates
from hirisearch.train.tape import F32, Sym, Tape

__all__ = ["train_swin"]


def _area(hw: tuple[int, int]) -> int:
    return hw[0] * hw[1]


def _window_attention(
    t: Tape, x: Sym, s: SwinStagePlan, heads: int, bias: bool, shift: bool
) -> Sym:
    dim = s.dim
    n_p = _area(s.padded_hw)
    area = s.window_area
    windows = n_p // area
    with t.module("qkv"):
        qkv = t.linear(x, dim, 3 * dim, bias=bias)
    q = t.copy(t.view(qkv, n_p * dim))  # q * scale
    # matmul reshapes its strided operands (k^T, v: views of the qkv output) into copies
    k = t.copy(t.view(qkv, n_p * dim))
    scores = t.matmul(q, k, windows * heads * area * area)
    table = t.parameter((2 * s.window[0] - 1) * (2 * s.window[1] - 1) * heads)
    rel = t.new(0, F32)  # the bias gathered from the table: fp32, shared by the batch
    scores = t.add(scores, rel)
    t.use_param(table)
    if shift:
        scores = t.add(scores, t.new(0, F32, grad=False))  # the shift mask buffer
    with t.module("softmax"):
        probs = t.softmax(scores)
    out = t.matmul(probs, t.copy(t.view(qkv, n_p * dim)), n_p * dim)
    merged = t.copy(out)  # x.transpose(1, 2).reshape(B_, N, C)
    with t.module("proj"):
        return t.linear(merged, dim, dim)


def _block(
    t: Tape,
    x: Sym,
    s: SwinStagePlan,
    plan: SwinPlan,
    block: tuple[int, float],
    dp: float,
    shift: bool,
) -> Sym:
    """A Swin block of ``block`` = (heads, FFN ratio); ``shift``: its windows are shifted (every
    second block of a stage)."""
    heads, ratio = block
    dim, n, n_p = s.dim, _area(s.hw), _area(s.padded_hw)
    area = s.window_area
    t.buffer(8 * area * area)  # relative_position_index
    if shift:
        t.buffer(4 * (n_p // area) * area * area)  # attn_mask
    with t.module("norm1"):
        h = t.layer_norm(x, dim)
    if shift:
        h = t.copy(h)  # torch.roll
    h = t.copy(h, n_p * dim)  # F.pad (a copy even when it pads nothing)
    h = t.copy(h)  # window_partition
    with t.module("attn"):
        h = _window_attention(t, h, s, heads, plan.qkv_bias, shift)
    h = t.copy(h)  # window_reverse
    if n_p != n:
        h = t.copy(h, n * dim)  # crop to the grid
    if shift:
        h = t.copy(h)  # torch.roll back
    with t.module("drop_path1"):
        h = t.drop_path(h, dp)
    x = t.add(x, h)
    with t.module("norm2"):
        h = t.layer_norm(x, dim)
    with t.module("mlp"):
        h = mlp_train(t, h, dim, int(dim * ratio), dw_conv=False, hw=(1, 1))
    with t.module("drop_path2"):
        h = t.drop_path(h, dp)
    return t.add(x, h)


def train_swin(plan: SwinPlan, t: Tape) -> Sym | list[Sym]:
    """The forward pass of the model ``plan`` describes; returns its output (the dense form:
    every stage's output through its own LayerNorm, one map per level)."""
    c0 = plan.embed_dim
    x = t.image(plan.in_chans * _area(plan.img_size))
    if plan.padded_img != plan.img_size:
        x = t.copy(x, plan.in_chans * _area(plan.padded_img))
    grid = _area(plan.stages[0].hw)
    with t.module("patch_embed"):
        with t.module("proj"):
            t.no_input_grad.append(t.path)
            x = t.conv(x, plan.in_chans, c0, plan.patch_size, grid * c0, bias=True)
        with t.module("norm"):
            x = t.layer_norm(x, c0)
    total = sum(s.depth for s in plan.stages)
    rates = iter(drop_path_rates(plan.drop_path_rate, total))
    outs: list[Sym] = []
    for i, s in enumerate(plan.stages):
        with t.module("layers"), t.module(i, inputs=[x]):
            if s.merge_hw is not None:
                with t.module("downsample"):
                    c4, n = 4 * s.in_dim, _area(s.hw)
                    x = t.copy(x, n * c4)  # F.pad
                    x = t.copy(x)  # the 2x2 neighbours gathered (a copy)
                    with t.module("norm"):
                        x = t.layer_norm(x, c4)
                    with t.module("reduction"):
                        x = t.linear(x, c4, s.dim, bias=False)
            with t.module("blocks"):
                for j in range(s.depth):
                    with t.module(j, inputs=[x]):
                        shift = any(s.shift) and j % 2 == 1
                        x = _block(t, x, s, plan, s.blocks[j], next(rates), shift)
        if plan.outputs == "pyramid":
            with t.module(f"norm{i}"):
                y = t.layer_norm(x, s.dim)
            outs.append(t.copy(y))  # permute(0, 3, 1, 2).contiguous()
    if plan.outputs == "pyramid":
        return outs
    last = plan.stages[-1]
    with t.module("norm"):
        x = t.layer_norm(x, last.dim)
    x = t.copy(x, last.dim)  # mean over the grid
    if plan.num_classes:
        with t.module("head"), t.module("fc"):
            x = t.linear(x, last.dim, plan.num_classes)
    return x
