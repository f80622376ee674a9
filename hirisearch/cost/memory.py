"""Analytic memory estimate of an inference forward pass, from the cost tree alone (no torch).
:func:`hirisearch.latency.device.ensure_fits` refuses, before anything is allocated, what it says
cannot fit.

The model (documented so that search proxies can rely on it):

- Parameters stay resident: ``params x dtype bytes``.
- The input batch is resident: ``batch x prod(input_shape) x dtype bytes``.
- Activations: walking the cost tree's operators in execution order (the tree's child order), an
  operator's input and output are alive at the same time, and a block keeps its input alive for the
  residual while its branch runs. The peak is estimated as the largest sum of two consecutive
  operator outputs plus the largest single output (the residual stream), times batch and dtype
  bytes. An operator's output size is its ``acts`` count (conv, linear and attention outputs;
  attention counts its score matrix too, as the math path materialises it) or, for norms,
  the element count of its ``out_shape``.

This is an upper-bound style estimate for eager inference without gradient buffers; the measured
peak (``hirisearch bench``) sits next to it in every table. Allocator caching, workspace buffers
(cuDNN, oneDNN) and the framework's own state are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hirisearch.cost.types import CostNode

__all__ = ["DTYPE_BYTES", "MemoryEstimate", "estimate_memory"]

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes of one inference forward pass (see the module docstring for the model)."""

    params_bytes: int
    input_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.params_bytes + self.input_bytes + self.activation_bytes


def _op_outputs(tree: CostNode) -> list[int]:
    """Output elements (per sample) of every operator, in execution order."""
    out: list[int] = []

    def visit(node: CostNode) -> None:
        own_acts = node.total.acts - sum(c.total.acts for _, c in node.children)
        if node.children:
            for _, child in node.children:
                visit(child)
            if own_acts > 0:  # work done by the node itself (the attention matmuls)
                out.append(own_acts)
            return
        if node.total.acts > 0:
            out.append(node.total.acts)
        elif node.out_shape:
            out.append(math.prod(node.out_shape))

    visit(tree)
    return out


def estimate_memory(
    tree: CostNode,
    input_shape: tuple[int, ...],
    *,
    batch: int = 1,
    dtype: str = "fp32",
) -> MemoryEstimate:
    """Estimate the memory of one forward pass of the model whose analytic cost is ``tree``.

    Args:
        tree: the model's analytic cost tree (per sample).
        input_shape: one sample's input shape, e.g. ``(3, 448, 448)``.
        batch: batch size.
        dtype: ``fp32``, ``bf16`` or ``fp16``; under autocast parameters stay fp32.
    """
    nbytes = DTYPE_BYTES[dtype]
    outs = _op_outputs(tree)
    pair = max((a + b for a, b in zip(outs, outs[1:], strict=False)), default=max(outs, default=0))
    largest = max(outs, default=0)
    return MemoryEstimate(
        params_bytes=tree.total.params * 4,
        input_bytes=batch * math.prod(input_shape) * 4,
        activation_bytes=batch * (pair + largest) * nbytes,
    )
