"""What the forward pass keeps for the backward pass, per module path (torch side).

:func:`saved_census` runs the forward pass of a training step on ``meta`` (emulating the
configuration's device, as the simulation does) under ``torch.autograd.graph.saved_tensors_hooks``:
every tensor an autograd node saves is seen as it is saved, with the innermost module running.
Each storage counts once, at the first module that saves it for an operator the loss depends on
(an operator whose output never reaches the loss is freed with its saved tensors once the forward
pass ends); parameters, buffers and the input are not activations, and the low-precision copies of
parameters autocast makes are counted apart (``weight_copies``).
The analytic model's per-module activations are tested against this census.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from hirisearch.cost.meta import MetaBuild
from hirisearch.train.config import TrainConfig
from hirisearch.train.emulate import DeviceEmulation
from hirisearch.train.loss import output_tensors, training_loss

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

    def by_path(self) -> dict[str, int]:
        """Bytes kept inside each module path, its descendants included (root ``""``)."""
        out: dict[str, int] = {}
        for path, nbytes in self.per_path.items():
            parts = path.split(".") if path else []
            for i in range(len(parts) + 1):
                key = ".".join(parts[:i])
                out[key] = out.get(key, 0) + nbytes
        return out


class _Owners(TorchFunctionMode):
    """Gives the tensors saved during each call the autograd node of the call's output."""

    def __init__(self, pending: list[tuple], events: list[tuple]) -> None:
        super().__init__()
        self.pending, self.events = pending, events

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        if self.pending:
            nodes = [t.grad_fn for t in output_tensors(out) if t.grad_fn is not None]
            for item in self.pending:
                self.events.append((nodes, *item))
            self.pending.clear()
        return out


def _reachable(root: Any) -> set[int]:
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        todo.extend(nxt for nxt, _ in node.next_functions)
    return seen


def saved_census(
    build: Callable[..., nn.Module], input_shape: tuple[int, ...], config: TrainConfig
) -> SavedCensus:
    """Census of the tensors the forward pass of one training step saves and keeps (module
    docstring): a tensor saved only by operators the loss does not depend on is not kept."""
    with MetaBuild():
        model = build(device="meta")
    model.train()
    x = torch.empty((config.batch, *input_shape), device="meta")
    # Parameters, buffers and the input batch are held anyway: not activations.
    held = {id(t.untyped_storage()) for t in (*model.parameters(), *model.buffers(), x)}
    stack: list[str] = []
    handles = []

    def leave(*_: Any) -> None:
        stack.pop()

    for path, module in model.named_modules():
        if path:
            handles.append(module.register_forward_pre_hook(lambda *_, p=path: stack.append(p)))
            handles.append(module.register_forward_hook(leave))
    emulation = DeviceEmulation(config.device, config.dtype)
    pending: list[tuple] = []
    events: list[tuple] = []
    keep: list[Any] = []

    def pack(t: torch.Tensor) -> Any:
        storage = t.untyped_storage()
        if id(storage) not in held:
            copy = any(c.untyped_storage() is storage for _, c in emulation.cache.values())
            keep.append(storage)
            pending.append((id(storage), storage.nbytes(), stack[-1] if stack else "", copy))
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), emulation:
            with _Owners(pending, events):
                out = model(x)
                emulation.on = False
                loss = training_loss(out)
    finally:
        for h in handles:
            h.remove()
    live = _reachable(loss.grad_fn)
    per_path: dict[str, int] = defaultdict(int)
    copies, counted = 0, set()
    for nodes, key, nbytes, path, copy in events:
        if key in counted or not any(id(n) in live for n in nodes):
            continue
        counted.add(key)
        if copy:
            copies += nbytes
        else:
            per_path[path] += nbytes
    return SavedCensus(dict(per_path), copies)
