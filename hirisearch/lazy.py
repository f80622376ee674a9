"""Callables resolved on first use, so that torch-free modules can point at their torch halves.

A model family's spec, plan and analytic cost import no torch; its ``nn.Module`` classes live in a
sibling ``*_nn`` module that is imported only when a model is built. :class:`LazyCallable` stands
for such a builder in a registry record (``Family.build``, a target kind's ``source``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class LazyCallable:
    """``module:name``, imported at the first call."""

    __slots__ = ("module", "name", "_fn")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._fn: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        if self._fn is None:
            self._fn = getattr(importlib.import_module(self.module), self.name)
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazyCallable({self.module}:{self.name})"
