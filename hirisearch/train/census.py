"""What the forward pass keeps for the backward pass, per module path (torch side).

:func:`saved_census` runs the forward pass of a training step on ``meta`` (emulating the
configuration's device, as the simulation does) under ``torch.autograd.graph.saved_tensors_hooks``:
every tensor an autograd node saves is seen as it is saved, with the innermost module running.
Each storage counts once, at the first module that saves it; parameters are not activations,
and the low-precision copies of parameters autocast makes are counted apart (``weight_copies``).
The analytic model's per-module activations are tested against this census.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hirisearch.layers.init import MetaBuild
from hirisearch.train.checkpoint import apply_checkpointing
from hirisearch.train.config import TrainConfig
from hirisearch.train.emulate import DeviceEmulation
from hirisearch.train.loss import training_loss

__all__ = ["SavedCensus", "saved_census"]


@dataclass(frozen=True)
class SavedCensus:
    """Bytes kept for backward: ``per_path`` (each module's own, its children's excluded; root
    ``""`` is what runs outside any module, the loss included), ``weight_copies`` (autocast's
    low-precision parameter copies) and ``total`` (both)."""

    per_path: dict[str, int]
    weight_copies: int

    @property
    def total(self) -> int:
        return sum(self.per_path.values()) + self.weight_copies

    def subtree(self, path: str) -> int:
        """Bytes saved inside the module at ``path`` (its descendants included)."""
        if not path:
            return sum(self.per_path.values())
        return sum(v for p, v in self.per_path.items() if p == path or p.startswith(path + "."))


def saved_census(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    config: TrainConfig,
    *,
    checkpoint_units: tuple[str, ...] = (),
) -> SavedCensus:
    """Census of the tensors the forward pass of one training step saves (module docstring)."""
    with MetaBuild():
        model = build(device="meta")
    model.train()
    apply_checkpointing(model, checkpoint_units)
    x = torch.empty((config.batch, *input_shape), device="meta")
    # Parameters, buffers and the input batch are held anyway: not activations.
    held = [*model.parameters(), *model.buffers(), x]
    param_ids = {id(p.untyped_storage()) for p in held}
    stack: list[str] = []
    handles = []

    def leave(*_: Any) -> None:
        stack.pop()

    for path, module in model.named_modules():
        if path:
            handles.append(module.register_forward_pre_hook(lambda *_, p=path: stack.append(p)))
            handles.append(module.register_forward_hook(leave))
    emulation = DeviceEmulation(config.device, config.dtype)
    seen: set[int] = set()
    per_path: dict[str, int] = defaultdict(int)
    copies = 0

    def pack(t: torch.Tensor) -> Any:
        nonlocal copies
        storage = t.untyped_storage()
        key = id(storage)
        if key in seen or key in param_ids:
            return t
        seen.add(key)
        if any(id(c.untyped_storage()) == key for _, c in emulation.cache.values()):
            copies += storage.nbytes()
        else:
            per_path[stack[-1] if stack else ""] += storage.nbytes()
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), emulation:
            out = model(x)
            emulation.on = False
            training_loss(out)
    finally:
        for h in handles:
            h.remove()
    return SavedCensus(dict(per_path), copies)
