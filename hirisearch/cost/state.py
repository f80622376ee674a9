"""What a forward pass may change in a model, put back afterwards: a count must leave the user's
model as it found it.

A count sets the mode it counts in (``model.train(False)`` or ``True``) and turns
``requires_grad`` off (:mod:`hirisearch.cost.counters`); a forward pass in training mode updates
BatchNorm's running statistics and draws dropout masks from the random number generators; some
modules keep caches in buffers or replace them. :func:`preserved` restores every module's mode,
every parameter's ``requires_grad``, every buffer (the same tensor object, with its values) and,
for a run that computes values, the generators of the devices the model is on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def preserved(model: nn.Module, *, values: bool = True) -> Iterator[None]:
    """Restore ``model``'s modes, ``requires_grad`` flags and buffers (and, with ``values``,
    buffer contents and the random number generators) when the block ends.

    Args:
        values: the block computes real values (an eager run): copy every buffer's values and
            fork the generators. A ``meta`` run has no values to restore.
    """
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    buffers = [
        (m, name, b, b.detach().clone() if values else None)
        for m in model.modules()
        for name, b in m.named_buffers(recurse=False)
    ]
    cuda = sorted({t.device.index or 0 for t in model.parameters() if t.device.type == "cuda"})
    try:
        if values:
            with torch.random.fork_rng(devices=cuda):
                yield
        else:
            yield
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in flags:
            p.requires_grad_(flag)
        with torch.no_grad():
            for m, name, b, saved in buffers:
                if getattr(m, name, None) is not b:
                    setattr(m, name, b)
                if saved is not None:
                    b.copy_(saved)
