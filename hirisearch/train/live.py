"""Every byte a program holds in tensors, tracked operator by operator (torch side).

:class:`LiveBytes` is a ``TorchDispatchMode`` (``torch.utils._python_dispatch``; no public API
shows every aten operator of a backward pass and of an optimizer step as they run): each storage an
operator returns is counted when it first appears and uncounted when it dies, by a ``weakref``
finalizer on the storage (torch keeps one Python object per live storage). Storages that exist
before the mode starts (parameters, the input batch, optimizer state) are registered with
:meth:`LiveBytes.hold`. The peak is taken after every operator, once its outputs exist and before
its inputs can die; scratch memory a kernel allocates and frees inside one operator is not seen.

It works on any device; on ``meta`` nothing is allocated, so it prices any size in seconds.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hirisearch.train.loss import output_tensors

__all__ = ["LiveBytes"]


class LiveBytes(TorchDispatchMode):
    """Bytes of the storages alive now (``live``) and the most alive at once (``peak``).

    Args:
        trace: a list to which the bytes alive after every operator are appended (the points a
            peak can be at), or None.
    """

    def __init__(self, trace: list[int] | None = None) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self.trace = trace
        self._sizes: dict[int, int] = {}

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = id(storage)
        if key in self._sizes:
            return
        size = storage.nbytes()
        self._sizes[key] = size
        self.live += size
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(key, 0)

    def hold(self, tensors: Iterable[Any]) -> None:
        """Count storages that already exist (parameters, inputs, optimizer state)."""
        for t in tensors:
            if isinstance(t, torch.Tensor):
                self._track(t)
        self.peak = max(self.peak, self.live)

    def reset_peak(self) -> None:
        self.peak = self.live

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        for t in output_tensors(out):
            self._track(t)
        if self.live > self.peak:
            self.peak = self.live
        if self.trace is not None:
            self.trace.append(self.live)
        return out
