"""Plain-ViT parts: patch embedding, global or windowed multi-head self-attention, and the pre-norm
block with optional layer scale (DeiT / CaiT ``Layer_scale_init_Block`` form).

Windowed attention follows ViTDet / PIIP: queries, keys and values are computed on the H x W tokens,
the q/k/v map is zero-padded up to a multiple of the window, attention runs inside each
``window_size`` x ``window_size`` window (padded positions included, unmasked, as upstream does),
then the map is cropped back. A class token is only possible with global attention.

Token norms (``norm``) are LayerNorm (``"ln"``) or RMSNorm (``"rms"``, InternViT-6B). RMSNorm is
elementwise work torch's counter has no handle for (it decomposes into pow, mean, rsqrt and mul),
so its twin counts its parameters and no norm work, like activations. ``qk_norm`` normalises the
queries and keys over the full width before the heads are split (InternViT-6B's QK-norm).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.layers.mlp import mlp_cost, mlp_train
from hirisearch.train.tape import Sym, Tape

Hw = tuple[int, int]
LN_EPS = 1e-6
#: A token norm: LayerNorm or RMSNorm.
TokenNorm = Literal["ln", "rms"]


def token_norm_cost(norm: TokenNorm, dim: int, elements: int) -> Cost:
    """Cost twin of :func:`~hirisearch.layers.vit_nn.token_norm` over ``elements`` values."""
    return P.layer_norm(dim, elements) if norm == "ln" else P.param_only(dim)


def padded(size: int, window: int) -> int:
    """``size`` rounded up to a multiple of ``window``."""
    return -(-size // window) * window


def block_windows(window_size: int, global_every: int, depth: int) -> tuple[int, ...]:
    """The window of each of ``depth`` blocks (0: global): every ``global_every``-th block
    (k-1, 2k-1, ...) is global, the others use ``window_size`` (0: all global)."""
    return tuple(
        0 if not window_size or (global_every and (i + 1) % global_every == 0) else window_size
        for i in range(depth)
    )


@lru_cache(maxsize=256)
def patch_embed_cost(in_chans: int, dim: int, patch_size: int = 16, *, hw: Hw) -> CostNode:
    """Cost twin of :class:`PatchEmbed` on an ``hw`` image (a trailing partial patch is dropped,
    as the strided convolution drops it)."""
    out_hw = (hw[0] // patch_size, hw[1] // patch_size)
    conv = P.conv2d(in_chans, dim, patch_size, out_hw, bias=True)
    return CostNode.of([("proj", CostNode.leaf(conv))], out_shape=(out_hw[0] * out_hw[1], dim))


@lru_cache(maxsize=1024)
def vit_attention_cost(
    dim: int,
    num_heads: int,
    *,
    window_size: int = 0,
    qkv_bias: bool = True,
    qk_norm: bool = False,
    norm: TokenNorm = "ln",
    hw: Hw,
    tokens: int,
) -> CostNode:
    """Cost twin of :class:`ViTAttention` on ``tokens`` tokens laid out as ``hw`` (``tokens`` is
    ``H*W`` plus one with a class token)."""
    children = [("qkv", CostNode.leaf(P.linear(dim, 3 * dim, tokens, bias=qkv_bias)))]
    if qk_norm:
        qk = CostNode.leaf(token_norm_cost(norm, dim, dim * tokens))
        children += [("q_norm", qk), ("k_norm", qk)]
    children.append(("proj", CostNode.leaf(P.linear(dim, dim, tokens))))
    hd = dim // num_heads
    if window_size:
        windows = (padded(hw[0], window_size) // window_size) * (
            padded(hw[1], window_size) // window_size
        )
        area = window_size * window_size
        own = P.attention(num_heads * windows, area, area, hd)
    else:
        own = P.attention(num_heads, tokens, tokens, hd)
    return CostNode.of(children, own=own, out_shape=(tokens, dim))


@lru_cache(maxsize=1024)
def vit_block_cost(
    dim: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    window_size: int = 0,
    qkv_bias: bool = True,
    layer_scale: float | None = 1.0,
    qk_norm: bool = False,
    norm: TokenNorm = "ln",
    hw: Hw,
    tokens: int,
) -> CostNode:
    """Cost twin of :class:`ViTBlock` on ``tokens`` tokens laid out as ``hw``."""
    attn = vit_attention_cost(
        dim,
        num_heads,
        window_size=window_size,
        qkv_bias=qkv_bias,
        qk_norm=qk_norm,
        norm=norm,
        hw=hw,
        tokens=tokens,
    )
    return prenorm_block_cost(
        dim,
        attn,
        tokens=tokens,
        mlp_ratio=mlp_ratio,
        layer_scale=layer_scale is not None,
        norm=norm,
    )


def prenorm_block_cost(
    dim: int,
    attn: CostNode,
    *,
    tokens: int,
    mlp_ratio: float,
    layer_scale: bool = False,
    norm: TokenNorm = "ln",
    out_shape: tuple[int, ...] | None = None,
) -> CostNode:
    """The pre-norm Transformer block around an attention node: ``x += attn(norm1(x))``,
    ``x += mlp(norm2(x))`` with token norms (LayerNorm by default) and an fc1/fc2 MLP on ``tokens`` tokens, and two
    layer-scale vectors when ``layer_scale``. ViT/DeiT (ours and timm's), Swin, ResFormer and PIIP
    branches share it; each passes its own attention (global, windowed, shifted-window, with a
    local positional conv)."""
    ln = CostNode.leaf(token_norm_cost(norm, dim, dim * tokens))
    mlp = mlp_cost(dim, int(dim * mlp_ratio), dw_conv=False, hw=(1, tokens))
    return CostNode.of(
        [("norm1", ln), ("attn", attn), ("norm2", ln), ("mlp", mlp)],
        own=P.param_only(2 * dim if layer_scale else 0),
        out_shape=out_shape or (tokens, dim),
    )


def vit_attention_train(
    t: Tape,
    x: Sym,
    dim: int,
    num_heads: int,
    *,
    window_size: int = 0,
    qkv_bias: bool = True,
    hw: Hw,
    tokens: int,
) -> Sym:
    """Training twin of :class:`ViTAttention`: windows are cut from a padded copy of the qkv map
    (``F.pad`` copies, the partition copies) and pasted back (a copy, unless one window covers
    the map; cropping copies too)."""
    with t.module("qkv"):
        qkv = t.linear(x, dim, 3 * dim, bias=qkv_bias)
    hd = dim // num_heads
    if not window_size:
        q = t.view(qkv, tokens * dim)
        out = t.attention(q, q, q, heads=num_heads, nq=tokens, nk=tokens, head_dim=hd)
    else:
        hp, wp = padded(hw[0], window_size), padded(hw[1], window_size)
        area, windows = window_size * window_size, (hp // window_size) * (wp // window_size)
        win = t.copy(t.copy(qkv, hp * wp * 3 * dim))  # F.pad, then the window partition
        q = t.view(win, hp * wp * dim)
        out = t.attention(q, q, q, heads=num_heads * windows, nq=area, nk=area, head_dim=hd)
        if windows > 1:  # windows pasted back into the map (one window: a view)
            out = t.copy(out)
        if (hp, wp) != hw:
            out = t.copy(out, tokens * dim)  # cropped
    with t.module("proj"):
        return t.linear(out, dim, dim)


def vit_block_train(
    t: Tape,
    x: Sym,
    dim: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    window_size: int = 0,
    qkv_bias: bool = True,
    layer_scale: float | None = 1.0,
    hw: Hw,
    tokens: int,
) -> Sym:
    """Training twin of :class:`ViTBlock`."""
    with t.module("norm1"):
        h = t.layer_norm(x, dim)
    with t.module("attn"):
        h = vit_attention_train(
            t, h, dim, num_heads, window_size=window_size, qkv_bias=qkv_bias, hw=hw, tokens=tokens
        )
    if layer_scale is not None:
        h = t.scale(h, t.parameter(dim))
    x = t.add(x, h)
    with t.module("norm2"):
        h = t.layer_norm(x, dim)
    with t.module("mlp"):
        h = mlp_train(t, h, dim, int(dim * mlp_ratio), dw_conv=False, hw=(1, tokens))
    if layer_scale is not None:
        h = t.scale(h, t.parameter(dim))
    return t.add(x, h)
