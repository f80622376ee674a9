"""Training MACs counted by running forward and backward on the ``meta`` device, per module path.

The model is built on ``meta`` in training mode (stochastic depth active), checkpointed as asked,
and run on one sample, as the forward count is; batch norms use their running statistics here,
because training-mode batch norm refuses a batch of one and its statistics are no MACs. The
stand-in loss of :mod:`hirisearch.train.loss` is back-propagated.

Each operator's FLOPs come from torch's formulas (``torch.utils.flop_counter.flop_registry``, the
table ``FlopCounterMode`` counts with), normalised to MACs by the convention module. Where an
operator ran is decided here rather than by ``FlopCounterMode``'s module tracker, which attributes
backward operators to whichever module its hooks last entered (ResFormer's patch-embedding weight
gradient landed in its position embedding; HRViT's fusion paths received their neighbours'):

- a forward operator belongs to the innermost module running it (forward pre-hooks and hooks);
- every autograd node gets, when it is created, the path of the module that created it (a
  ``TorchFunctionMode`` that tags the new nodes of each call's outputs); a backward operator
  belongs to the node being executed (a pre-hook on every tagged node);
- the forward that activation checkpointing recomputes inside the backward pass is counted apart,
  as ``recompute``, at the path of the modules running it.

torch 2.14's formula for ``convolution_backward`` counts the weight gradient of a grouped
convolution ``groups`` times over (its transposed shapes lose the group division; fixed upstream
in pytorch/pytorch#183405); :func:`conv_backward_flops` replaces it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import conv_flop_count, flop_registry, shape_wrapper

from hirisearch.cost.convention import macs_from_torch_flops
from hirisearch.cost.meta import MetaBuild
from hirisearch.runtime import gc_paused
from hirisearch.train.checkpoint import apply_checkpointing
from hirisearch.train.loss import output_tensors, training_loss
from hirisearch.train.types import TrainMacs

__all__ = ["TracedTrainMacs", "conv_backward_flops", "traced_train_macs"]

aten = torch.ops.aten
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
#: Metadata queries that reach a dispatch mode and do no work.
_QUERIES = frozenset(
    {
        aten.is_contiguous.default,
        aten.is_contiguous.memory_format,
        aten.is_strides_like_format.default,
        aten.is_non_overlapping_and_dense.default,
        aten.size.default,
        aten.sym_size.default,
        aten.stride.default,
        aten.sym_stride.default,
        aten.storage_offset.default,
        aten.sym_storage_offset.default,
        aten.numel.default,
        aten.sym_numel.default,
        aten.dim.default,
        torch.ops.prim.layout.default,
        torch.ops.prim.device.default,
    }
)


def conv_backward_flops(
    grad_out_shape: Any,
    x_shape: Any,
    w_shape: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    transposed: bool,
    output_padding: Any,
    groups: int,
    output_mask: Any,
    out_shape: Any = None,
) -> int:
    """torch FLOPs of ``aten.convolution_backward``: the input gradient (a convolution of the
    output gradient with the weight) and the weight gradient, each as large as the forward."""
    flops = 0
    if output_mask[0]:
        flops += conv_flop_count(grad_out_shape, w_shape, x_shape, not transposed)
    if output_mask[1]:
        flops += conv_flop_count(x_shape, w_shape, grad_out_shape, transposed)
    return flops


_REGISTRY: dict[Any, Callable[..., int]] = {
    **flop_registry,
    aten.convolution_backward: shape_wrapper(conv_backward_flops),
}


@dataclass(frozen=True)
class TracedTrainMacs:
    """A traced training step: MACs per sample at every module path (root ``""``)."""

    total: TrainMacs
    per_path: dict[str, TrainMacs]
    seconds: float


class _Where:
    """Which module path, and which part of the step (forward, backward, recompute), is running."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.backward = False
        self.node_path = ""
        self.tagged: dict[Any, str] = {}
        self.tagger: _Tagger | None = None
        self.flops: dict[str, dict[str, int]] = {
            k: defaultdict(int) for k in ("forward", "backward", "recompute")
        }

    @contextmanager
    def scope(self, path: str) -> Iterator[None]:
        """A checkpointed module running; inside the backward pass (its recomputation) the
        tagging mode is entered again, as the autograd engine does not carry function modes."""
        self.stack.append(path)
        try:
            if self.backward and self.tagger is not None:
                with self.tagger:
                    yield
            else:
                yield
        finally:
            self.stack.pop()

    def add(self, flops: int) -> None:
        if self.stack:
            part, path = ("recompute" if self.backward else "forward"), self.stack[-1]
        else:
            part, path = ("backward", self.node_path) if self.backward else ("forward", "")
        counts = self.flops[part]
        counts[""] += flops
        if path:
            parts = path.split(".")
            for i in range(1, len(parts) + 1):
                counts[".".join(parts[:i])] += flops

    def tag(self, out: Any) -> None:
        """Give the autograd nodes created by the last call the path running it."""
        path = self.stack[-1] if self.stack else ""
        todo: list[Any] = [t.grad_fn for t in output_tensors(out) if t.grad_fn is not None]
        while todo:
            node = todo.pop()
            if node is None or node in self.tagged:
                continue
            self.tagged[node] = path
            node.register_prehook(self._entering(path))
            todo.extend(nxt for nxt, _ in node.next_functions if nxt is not None)

    def _entering(self, path: str) -> Callable[..., None]:
        def hook(grad_outputs: Any) -> None:
            self.node_path = path

        return hook


class _Tagger(TorchFunctionMode):
    def __init__(self, where: _Where) -> None:
        super().__init__()
        self.where = where

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        if torch.is_grad_enabled():
            self.where.tag(out)
        return out


class _Counter(TorchDispatchMode):
    """Counts torch FLOPs per operator (``TorchDispatchMode`` is the only public way to see the
    aten operators of a backward pass as they run)."""

    def __init__(self, where: _Where) -> None:
        super().__init__()
        self.where = where

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        formula = _REGISTRY.get(func.overloadpacket)
        if formula is None and func not in _QUERIES:
            with self:  # as FlopCounterMode: a composite operator is counted by its parts
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        out = func(*args, **kwargs)
        if formula is not None:
            self.where.add(formula(*args, **kwargs, out_val=out))
        return out


def _module_scopes(model: nn.Module, where: _Where) -> list[Any]:
    handles = []
    for path, module in model.named_modules():
        if not path:
            continue

        def enter(_m: nn.Module, _args: Any, path: str = path) -> None:
            where.stack.append(path)

        def leave(_m: nn.Module, _args: Any, _out: Any) -> None:
            where.stack.pop()

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave, always_call=True))
    return handles


def traced_train_macs(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    *,
    checkpoint_units: Iterable[str] = (),
) -> TracedTrainMacs:
    """Count one training step (forward + backward) of the model ``build(device="meta")`` makes,
    per sample and per module path.

    Args:
        build: builds the model; must accept ``device``.
        input_shape: one sample's shape, e.g. ``(3, 448, 448)``.
        checkpoint_units: module paths to checkpoint (:func:`hirisearch.train.units.checkpoint_units`).
    """
    start = time.perf_counter()
    where = _Where()
    with gc_paused():
        with MetaBuild():
            model = build(device="meta")
        model.train()
        for module in model.modules():
            if isinstance(module, _BATCH_NORMS):
                module.eval()
        apply_checkpointing(model, checkpoint_units, scope=where.scope)
        handles = _module_scopes(model, where)
        x = torch.empty((1, *input_shape), device="meta")
        try:
            where.tagger = _Tagger(where)
            with where.tagger, _Counter(where):
                loss = training_loss(model(x))
                where.backward = True
                loss.backward()
        finally:
            for h in handles:
                h.remove()
    counts = where.flops
    per_path: dict[str, TrainMacs] = {}
    for path, _ in model.named_modules():
        macs = TrainMacs(
            *(macs_from_torch_flops(counts[k].get(path, 0)) for k in counts)  # type: ignore[arg-type]
        )
        if macs.total:
            per_path[path] = macs
    return TracedTrainMacs(
        total=per_path.get("", TrainMacs()), per_path=per_path, seconds=time.perf_counter() - start
    )
