"""Activation checkpointing built into a model, so that the model measured is the model costed.

:func:`apply_checkpointing` makes each named module recompute its forward pass during the backward
pass instead of keeping its activations (``torch.utils.checkpoint.checkpoint``, non-reentrant, the
implementation torch recommends). The module keeps its path: its ``forward`` is wrapped in place,
so module paths, hooks and parameters are those of the model without checkpointing. Which modules
are wrapped is decided torch-free by :func:`hirisearch.train.units.checkpoint_units`, from the
same cost tree the analytic model reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from functools import wraps
from typing import Any

from torch import nn
from torch.utils.checkpoint import checkpoint

from hirisearch.errors import TrainError

__all__ = ["apply_checkpointing"]

#: ``scope(path)``: a context entered around every run of a checkpointed module's forward, the
#: recomputation inside the backward pass included (a counter attributes what runs there).
Scope = Callable[[str], AbstractContextManager[Any]]


def _checkpointed(forward: Callable[..., Any], path: str, scope: Scope) -> Callable[..., Any]:
    def body(*args: Any, **kwargs: Any) -> Any:
        with scope(path):
            return forward(*args, **kwargs)

    @wraps(forward)
    def run(*args: Any, **kwargs: Any) -> Any:
        return checkpoint(body, *args, use_reentrant=False, **kwargs)

    return run


def apply_checkpointing(
    model: nn.Module, paths: Iterable[str], *, scope: Scope | None = None
) -> nn.Module:
    """Wrap the forward of the module at every path in ``paths`` with activation checkpointing.

    Returns ``model`` (changed in place). A path that is not a module of ``model`` is a
    :class:`TrainError`. ``scope``, when given, is entered around every run of a wrapped forward.
    """
    modules = dict(model.named_modules())
    for path in paths:
        module = modules.get(path)
        if module is None:
            raise TrainError(f"checkpoint unit {path!r} is not a module of the built model")
        module.forward = _checkpointed(  # type: ignore[method-assign]
            module.forward, path, scope or (lambda _p: nullcontext())
        )
    return model
