"""Analytic memory estimate of an inference forward pass, and a check that refuses configurations
that cannot fit before anything is allocated.

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hirisearch.cost.types import CostNode
from hirisearch.errors import DeviceError, MemoryBudgetError

__all__ = [
    "DTYPE_BYTES",
    "MemoryEstimate",
    "estimate_memory",
    "available_memory_bytes",
    "ensure_fits",
    "ensure_targets_fit",
]

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


def _mem_available_cpu(meminfo: str | Path = "/proc/meminfo") -> int:
    try:
        text = Path(meminfo).read_text()
    except OSError as e:
        raise DeviceError(f"cannot read {meminfo} to check CPU memory: {e}") from None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise DeviceError(f"no MemAvailable line in {meminfo}")


def available_memory_bytes(device: torch.device | str) -> int:
    """Memory a configuration may use: total memory of a CUDA device, ``MemAvailable`` on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA is not available on this machine")
        index = device.index if device.index is not None else torch.cuda.current_device()
        return int(torch.cuda.get_device_properties(index).total_memory)
    if device.type == "cpu":
        return _mem_available_cpu()
    raise DeviceError(f"no memory check for device type {device.type!r}; valid: cpu, cuda")


def ensure_fits(
    estimate_bytes: int,
    device: torch.device | str,
    *,
    force: bool = False,
    what: str = "this configuration",
) -> None:
    """Refuse ``what`` when its estimated bytes exceed the device's memory, before allocating.

    Args:
        estimate_bytes: the estimate, e.g. ``estimate_memory(...).total_bytes``.
        device: the device it would run on.
        force: skip the refusal (the user passed ``--force``).
        what: named in the error, e.g. ``"HIRI-ViT-S at 448, batch 64"``.

    Raises:
        MemoryBudgetError: one line naming the estimate, the available memory and ``--force``.
    """
    if force:
        return
    available = available_memory_bytes(device)
    if estimate_bytes > available:
        raise MemoryBudgetError(
            f"{what} needs an estimated {estimate_bytes / 2**30:.2f} GiB but "
            f"{torch.device(device).type} has {available / 2**30:.2f} GiB available; "
            "use a smaller batch or resolution, or --force to try anyway"
        )


def ensure_targets_fit(
    targets: Sequence[Any],
    sizes: Sequence[int | None],
    batches: Sequence[int],
    device: torch.device | str,
    dtype: str = "fp32",
    *,
    force: bool = False,
) -> None:
    """:func:`ensure_fits` for every target x size x batch, from the analytic cost alone.

    ``targets`` are :class:`hirisearch.targets.Target` objects; models without an analytic cost
    (``timm:`` names) are not checked here (their memory is only known once built).
    """
    for target in targets:
        for size in sizes:
            plan = target.plan(size)
            if plan is None:
                continue
            tree = target.cost(plan)
            for b in batches:
                est = estimate_memory(tree, plan.input_shape, batch=b, dtype=dtype)
                ensure_fits(
                    est.total_bytes,
                    device,
                    force=force,
                    what=f"{target.name} at {plan.img_size}, batch {b}",
                )
