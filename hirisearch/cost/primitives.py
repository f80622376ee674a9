"""Closed-form costs of the primitive operators, per sample.

Pure functions of shapes; the layer cost twins in :mod:`hirisearch.layers` compose them. Every
formula counts MACs (see :mod:`hirisearch.cost.convention`).
"""

from __future__ import annotations

from hirisearch.cost.convention import BN_PER_ELEMENT, GN_PER_ELEMENT, LN_PER_ELEMENT
from hirisearch.cost.types import Cost

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "conv_out",
    "linear",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "attention",
    "param_only",
]


def conv_out(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a convolution along one axis (PyTorch's floor formula)."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv2d(
    in_chs: int,
    out_chs: int,
    kernel_size: int,
    out_hw: tuple[int, int],
    *,
    groups: int = 1,
    bias: bool = False,
) -> Cost:
    """A 2D convolution producing an ``out_hw`` map."""
    weights = out_chs * (in_chs // groups) * kernel_size * kernel_size
    positions = out_hw[0] * out_hw[1]
    return Cost(
        params=weights + (out_chs if bias else 0),
        conv=weights * positions,
        acts=out_chs * positions,
    )


def conv_transpose2d(
    in_chs: int, out_chs: int, kernel_size: int, in_hw: tuple[int, int], *, bias: bool = True
) -> Cost:
    """A 2D transposed convolution (stride = kernel, no padding) on an ``in_hw`` map: every
    input position scatters one ``kernel_size`` x ``kernel_size`` patch of each output channel."""
    weights = in_chs * out_chs * kernel_size * kernel_size
    out_positions = in_hw[0] * kernel_size * in_hw[1] * kernel_size
    return Cost(
        params=weights + (out_chs if bias else 0),
        conv=weights * in_hw[0] * in_hw[1],
        acts=out_chs * out_positions,
    )


def linear(in_features: int, out_features: int, tokens: int, *, bias: bool = True) -> Cost:
    """A linear layer applied to ``tokens`` vectors."""
    weights = in_features * out_features
    return Cost(
        params=weights + (out_features if bias else 0),
        linear=weights * tokens,
        acts=out_features * tokens,
    )


def batch_norm(channels: int, elements: int, *, affine: bool = True) -> Cost:
    """BatchNorm at inference over ``elements`` values (channels x positions)."""
    return Cost(
        params=2 * channels if affine else 0, norm=elements * (BN_PER_ELEMENT if affine else 1)
    )


def layer_norm(dim: int, elements: int, *, affine: bool = True) -> Cost:
    """LayerNorm over ``elements`` values (dim x tokens)."""
    return Cost(
        params=2 * dim if affine else 0,
        norm=elements * (LN_PER_ELEMENT if affine else LN_PER_ELEMENT - 1),
    )


def group_norm(channels: int, elements: int, *, affine: bool = True) -> Cost:
    """GroupNorm over ``elements`` values."""
    return Cost(
        params=2 * channels if affine else 0,
        norm=elements * (GN_PER_ELEMENT if affine else GN_PER_ELEMENT - 1),
    )


def attention(
    heads: int, q_tokens: int, kv_tokens: int, head_dim: int, *, v_dim: int | None = None
) -> Cost:
    """The two attention matmuls, softmax(Q K^T) V, for one set of ``heads``."""
    v_dim = head_dim if v_dim is None else v_dim
    scores = heads * q_tokens * kv_tokens
    return Cost(
        attn=scores * head_dim + scores * v_dim,
        acts=scores + heads * q_tokens * v_dim,
    )


def param_only(count: int) -> Cost:
    """Parameters that do no counted work (position embeddings, tokens, layer scales)."""
    return Cost(params=count)
