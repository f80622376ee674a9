"""How a training step runs on a kind of device, as the analytic model and the simulator both need
it (no torch): the autocast operator lists, which attention kernel runs, and which optimizer
implementation torch picks.

Autocast (``torch.autocast``) casts the inputs of listed operators. The lists below are torch's,
for the operators these families call, from torch's autocast documentation ("Autocast Op
Reference"): on the CPU, matmuls, convolutions and attention run in the low precision and a few
operators (``grid_sample``, pooling and losses of 3D inputs, ...) in fp32; everything else runs in
the dtype it is given. On CUDA, normalisations, softmax, ``pow`` and reductions also run in fp32.
The simulator's tests hold the CPU lists equal to real CPU autocast, operator by operator.

Attention (``F.scaled_dot_product_attention``) takes a fused kernel that keeps no score matrix
when torch's rules allow one, else the math path, which keeps the softmax probabilities:

- CPU (``select_sdp_backend_cpp``): the fused CPU flash kernel for 4-D inputs with equal head
  dimensions, unit last stride, no dropout and no mask, or a mask that needs no gradient and is
  2-D, or 4-D broadcastable to (batch, heads, queries, keys);
- CUDA (sm80 or newer): flash attention for fp16/bf16 without a mask and head dimension up to
  256; memory-efficient attention for 4-D inputs otherwise (a mask allowed, its gradient
  computed); the math path for anything else (5-D inputs).
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "DEVICE_KINDS",
    "DTYPES",
    "DeviceKind",
    "Dtype",
    "AttentionKernel",
    "attention_kernel",
    "LOWER",
    "FP32",
    "PROMOTE",
    "uses_foreach",
]

DeviceKind = Literal["cpu", "cuda"]
Dtype = Literal["fp32", "bf16", "fp16"]
AttentionKernel = Literal["fused", "math"]
DEVICE_KINDS: Final = ("cpu", "cuda")
DTYPES: Final = ("fp32", "bf16", "fp16")

_MATMULS = frozenset(
    {
        "torch.nn.functional.linear",
        "torch.nn.functional.conv1d",
        "torch.nn.functional.conv2d",
        "torch.nn.functional.conv3d",
        "torch.nn.functional.conv_transpose1d",
        "torch.nn.functional.conv_transpose2d",
        "torch.nn.functional.conv_transpose3d",
        "torch.nn.functional.prelu",
        "torch.nn.functional.scaled_dot_product_attention",
        "torch.matmul",
        "torch.Tensor.matmul",
        "torch.bmm",
        "torch.Tensor.bmm",
        "torch.mm",
        "torch.Tensor.mm",
        "torch.baddbmm",
        "torch.Tensor.baddbmm",
        "torch.addmm",
        "torch.Tensor.addmm",
        "torch.addbmm",
        "torch.Tensor.addbmm",
    }
)

#: Operators whose inputs autocast casts to the low precision, by device kind.
LOWER: Final[dict[str, frozenset[str]]] = {
    "cpu": _MATMULS,
    "cuda": _MATMULS
    | {
        "torch.einsum",
        "torch.addmv",
        "torch.Tensor.addmv",
        "torch.addr",
        "torch.mv",
        "torch.Tensor.mv",
        "torch.chain_matmul",
        "torch.linalg.multi_dot",
    },
}

#: Operators whose inputs autocast casts to fp32, by device kind.
FP32: Final[dict[str, frozenset[str]]] = {
    "cpu": frozenset(
        {
            "torch.nn.functional.grid_sample",
            "torch.grid_sampler",
            "torch.nn.functional.avg_pool3d",
            "torch.nn.functional.max_pool3d",
            "torch.nn.functional.adaptive_avg_pool3d",
            "torch.prod",
            "torch.Tensor.prod",
            "torch.cdist",
            "torch.nn.functional.mse_loss",
            "torch.nn.functional.l1_loss",
            "torch.nn.functional.smooth_l1_loss",
            "torch.nn.functional.huber_loss",
            "torch.nn.functional.nll_loss",
            "torch.nn.functional.cross_entropy",
            "torch.nn.functional.kl_div",
            "torch.nn.functional.binary_cross_entropy",
            "torch.nn.functional.binary_cross_entropy_with_logits",
        }
    ),
    "cuda": frozenset(
        {
            "torch.nn.functional.layer_norm",
            "torch.layer_norm",
            "torch.nn.functional.group_norm",
            "torch.group_norm",
            "torch.nn.functional.softmax",
            "torch.softmax",
            "torch.Tensor.softmax",
            "torch.nn.functional.log_softmax",
            "torch.log_softmax",
            "torch.Tensor.log_softmax",
            "torch.pow",
            "torch.Tensor.pow",
            "torch.Tensor.__pow__",
            "torch.Tensor.__rpow__",
            "torch.exp",
            "torch.Tensor.exp",
            "torch.log",
            "torch.Tensor.log",
            "torch.rsqrt",
            "torch.Tensor.rsqrt",
            "torch.reciprocal",
            "torch.Tensor.reciprocal",
            "torch.sum",
            "torch.Tensor.sum",
            "torch.prod",
            "torch.Tensor.prod",
            "torch.cumsum",
            "torch.Tensor.cumsum",
            "torch.norm",
            "torch.Tensor.norm",
            "torch.nn.functional.normalize",
            "torch.nn.functional.softplus",
            "torch.nn.functional.cosine_similarity",
            "torch.cdist",
            "torch.logsumexp",
            "torch.Tensor.logsumexp",
            "torch.nn.functional.mse_loss",
            "torch.nn.functional.l1_loss",
            "torch.nn.functional.smooth_l1_loss",
            "torch.nn.functional.huber_loss",
            "torch.nn.functional.nll_loss",
            "torch.nn.functional.cross_entropy",
            "torch.nn.functional.kl_div",
            "torch.nn.functional.binary_cross_entropy_with_logits",
        }
    ),
}

#: Operators whose inputs autocast casts to the widest floating dtype among them.
PROMOTE: Final[dict[str, frozenset[str]]] = {
    "cpu": frozenset({"torch.cat", "torch.stack", "torch.index_copy", "torch.Tensor.index_copy"}),
    "cuda": frozenset(
        {
            "torch.cat",
            "torch.stack",
            "torch.index_copy",
            "torch.Tensor.index_copy",
            "torch.addcdiv",
            "torch.Tensor.addcdiv",
            "torch.addcmul",
            "torch.Tensor.addcmul",
            "torch.atan2",
            "torch.nn.functional.bilinear",
            "torch.cross",
            "torch.dot",
            "torch.nn.functional.grid_sample",
            "torch.grid_sampler",
            "torch.tensordot",
            "torch.scatter_add",
            "torch.Tensor.scatter_add",
            "torch.index_put",
            "torch.Tensor.index_put",
        }
    ),
}


def attention_kernel(
    device: DeviceKind,
    dtype: Dtype,
    *,
    ndim: int = 4,
    same_head_dims: bool = True,
    head_dim: int = 64,
    unit_stride: bool = True,
    dropout: bool = False,
    mask: Literal["none", "fixed", "learned"] = "none",
    mask_shape_ok: bool = True,
) -> tuple[AttentionKernel, str]:
    """Which kernel ``F.scaled_dot_product_attention`` runs, and torch's name for it.

    Args:
        device: ``cpu`` or ``cuda``.
        dtype: the dtype the attention runs in (the autocast dtype under autocast).
        ndim: dimensions of the query (4: batch, heads, tokens, head dim).
        same_head_dims: query, key and value have equal last dimensions.
        head_dim: the query's last dimension.
        unit_stride: query, key and value are contiguous in their last dimension.
        dropout: attention dropout is on.
        mask: no mask, a mask that needs no gradient, or one that does (a learned bias).
        mask_shape_ok: the mask is 2-D, or 4-D broadcastable to (batch, heads, queries, keys).
    """
    dense = ndim == 4 and same_head_dims and unit_stride
    if device == "cpu":
        fused = dense and not dropout and (mask == "none" or (mask == "fixed" and mask_shape_ok))
        return ("fused", "flash_cpu") if fused else ("math", "math")
    if dense and dtype in ("bf16", "fp16") and mask == "none" and head_dim <= 256:
        return "fused", "flash"
    if dense and mask_shape_ok and head_dim % (4 if dtype == "fp32" else 8) == 0:
        return "fused", "efficient"
    return "math", "math"


def uses_foreach(device: DeviceKind) -> bool:
    """torch's optimizers default to their ``foreach`` implementation (one kernel over all the
    tensors, with temporaries the size of every parameter at once) on CUDA, and to a loop over
    the parameters on the CPU."""
    return device == "cuda"
