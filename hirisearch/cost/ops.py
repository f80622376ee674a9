"""Which aten operators the traced count puts in which category, and the per-operator counts
FlopCounterMode has no formula for (norms, resampling, pooling), in fvcore's rules.

Used by :mod:`hirisearch.cost.counters`; the categories match the analytic cost's fields.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from hirisearch.cost.convention import (
    BN_PER_ELEMENT,
    FVCORE_GRID_SAMPLE,
    FVCORE_UPSAMPLE_BILINEAR,
    FVCORE_UPSAMPLE_NEAREST,
    GN_PER_ELEMENT,
    LN_PER_ELEMENT,
    TORCH_FLOPS_PER_MAC,
)
from hirisearch.cost.replay import MetaKernelCache

aten = torch.ops.aten

# ----------------------------------------------------------------- operator categories
CONV_OPS = {aten.convolution, aten._convolution, aten.convolution_backward}
LINEAR_OPS = {aten.mm, aten.addmm}
ATTN_OPS = {
    aten.bmm,
    aten.baddbmm,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_cudnn_attention,
    aten._scaled_dot_product_flash_attention_for_cpu,
}
NORM_OPS = {
    aten._native_batch_norm_legit_no_training,
    aten._native_batch_norm_legit,
    aten.native_batch_norm,
    aten.native_layer_norm,
    aten.native_group_norm,
}

#: Operators that do no arithmetic worth counting (layout, indexing, creation).
SHAPE_OPS = {
    "view",
    "_unsafe_view",
    "reshape",
    "permute",
    "transpose",
    "t",
    "expand",
    "clone",
    "contiguous",
    "unbind",
    "split",
    "split_with_sizes",
    "chunk",
    "cat",
    "stack",
    "slice",
    "select",
    "squeeze",
    "unsqueeze",
    "flatten",
    "unflatten",
    "empty",
    "empty_like",
    "empty_strided",
    "zeros",
    "zeros_like",
    "ones",
    "ones_like",
    "full",
    "arange",
    "_to_copy",
    "copy_",
    "detach",
    "alias",
    "as_strided",
    "lift_fresh",
    "new_empty",
    "new_zeros",
    "index",
    "_unsafe_index",
    "index_select",
    "gather",
    "scalar_tensor",
    "fill_",
    "zero_",
    "lift_fresh_copy",
    "expand_as",
    "view_as",
    "_reshape_alias",
    "roll",
    "pad",
    "constant_pad_nd",
    "masked_fill",
    "where",
    "_local_scalar_dense",
    "item",
    "sym_size",
    "clamp",
    "floor",
    "ceil",
    "sub",
    "rsub",
    "new_ones",
    "narrow",
    "linspace",
    "meshgrid",
    "repeat",
    "_safe_softmax",
    "bernoulli_",
    "eq",
    "ne",
    "lt",
    "gt",
    "ge",
    "le",
    "logical_and",
    "logical_not",
}


# Norm counts follow fvcore's handles exactly: per element, BN at inference 2 (1 without affine
# parameters), BN with batch statistics (training, instance norm) and LN/GN 5 (4 without affine).
# They are expressed in torch's 2-per-unit scale so that one normalisation handles every op.
def _bn_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return _norm(input_shape, BN_PER_ELEMENT if weight is not None else BN_PER_ELEMENT - 1)


def _bn_stats_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    """A batch norm that may use batch statistics: ``training`` is the first bool argument."""
    training = next((a for a in args if isinstance(a, bool)), kwargs.get("training", False))
    if not training:
        return _bn_flops(input_shape, weight)
    return _norm(input_shape, LN_PER_ELEMENT if weight is not None else LN_PER_ELEMENT - 1)


def _ln_flops(input_shape, shape=None, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return _norm(input_shape, LN_PER_ELEMENT if weight is not None else LN_PER_ELEMENT - 1)


def _gn_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return _norm(input_shape, GN_PER_ELEMENT if weight is not None else GN_PER_ELEMENT - 1)


def _norm(input_shape: Any, per_element: int) -> int:
    return math.prod(input_shape) * per_element * TORCH_FLOPS_PER_MAC


NORM_MAPPING: dict[Any, Callable[..., int]] = {
    aten._native_batch_norm_legit_no_training: _bn_flops,
    aten._native_batch_norm_legit: _bn_stats_flops,
    aten.native_batch_norm: _bn_stats_flops,
    aten.native_layer_norm: _ln_flops,
    aten.native_group_norm: _gn_flops,
}


# Resampling as fvcore counts it (its ``upsample_*``, ``adaptive_avg_pool2d`` and ``grid_sampler``
# handles), per element of the output (or input, for pooling). Not in our convention: counted into
# the separate ``resample`` figure, which ``--convention fvcore`` adds to the total.
def _per_output(scale: int) -> Callable[..., int]:
    def flops(*args, out_shape=None, **kwargs) -> int:  # noqa: ANN001, ANN002, ANN003
        return math.prod(out_shape) * scale * TORCH_FLOPS_PER_MAC

    return flops


def _per_input(input_shape, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return math.prod(input_shape) * TORCH_FLOPS_PER_MAC


RESAMPLE_MAPPING: dict[Any, Callable[..., int]] = {
    aten.upsample_nearest2d: _per_output(FVCORE_UPSAMPLE_NEAREST),
    aten.upsample_bilinear2d: _per_output(FVCORE_UPSAMPLE_BILINEAR),
    aten.grid_sampler_2d: _per_output(FVCORE_GRID_SAMPLE),
    aten.grid_sampler_3d: _per_output(FVCORE_GRID_SAMPLE),
    aten._adaptive_avg_pool2d: _per_input,
}
RESAMPLE_OPS = set(RESAMPLE_MAPPING)
# ``FlopCounterMode`` decomposes an overload that is not registered itself (``F.interpolate`` calls
# ``upsample_*2d.vec``, which would decompose into arithmetic): register every overload too.
RESAMPLE_MAPPING.update(
    {
        getattr(packet, o): fn
        for packet, fn in list(RESAMPLE_MAPPING.items())
        for o in packet.overloads()
    }
)


class AdaptivePoolAsOp(TorchFunctionMode):
    """``F.adaptive_avg_pool2d`` dispatches as ``aten._adaptive_avg_pool2d`` (to a 1x1 output
    torch otherwise computes a ``mean``, which no counter can tell from any other mean): the
    same result, through the one operator fvcore counts as pooling."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        if func is torch.nn.functional.adaptive_avg_pool2d:
            bound = {**dict(zip(("input", "output_size"), args, strict=False)), **(kwargs or {})}
            x, size = bound.get("input"), bound.get("output_size")
            pair = (size, size) if isinstance(size, int) else tuple(size or ())
            if isinstance(x, torch.Tensor) and x.dim() in (3, 4) and len(pair) == 2:
                if all(isinstance(v, int) for v in pair):
                    return aten._adaptive_avg_pool2d(x, list(pair))
        return func(*args, **(kwargs or {}))


def acts_out(*args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    """Output elements of an op (used to count activations), in torch's 2-per-unit scale."""
    if (
        isinstance(out_shape, (tuple, list))
        and out_shape
        and isinstance(out_shape[0], (tuple, list, torch.Size))
    ):
        out_shape = out_shape[0]
    return math.prod(out_shape) * TORCH_FLOPS_PER_MAC


def category(op: Any) -> str:
    packet = getattr(op, "overloadpacket", op)
    if packet in CONV_OPS:
        return "conv"
    if packet in LINEAR_OPS:
        return "linear"
    if packet in ATTN_OPS:
        return "attn"
    if packet in NORM_OPS:
        return "norm"
    if packet in RESAMPLE_OPS:
        return "resample"
    return "other"


def display_name(op: Any) -> str:
    """How results name an operator: ``cumsum`` for aten's, ``namespace::name`` for others."""
    packet = getattr(op, "overloadpacket", op)
    namespace, _, name = str(packet).rpartition(".")
    return name if namespace in ("aten", "") else f"{namespace}::{name}"


#: The resampling operators' names (counted into ``resample``, in fvcore's convention only).
RESAMPLE_NAMES = frozenset(display_name(op) for op in RESAMPLE_OPS)


class OpRecorder(TorchDispatchMode):
    """Records the names of every aten operator that runs (to list the uncounted ones); the
    innermost mode, so it can also serve repeated meta kernels from a cache."""

    def __init__(self, cache: MetaKernelCache | None = None) -> None:
        super().__init__()
        self.ops: dict[str, int] = defaultdict(int)
        self.cache = cache

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.ops[display_name(func)] += 1
        if self.cache is not None:
            return self.cache(func, args, kwargs or {})
        return func(*args, **(kwargs or {}))
