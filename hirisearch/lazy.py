"""Names resolved on first use, so that torch-free modules can point at their torch halves.

A model family's spec, plan and analytic cost import no torch; its ``nn.Module`` classes live in a
sibling ``*_nn`` module that is imported only when a model is built. :func:`lazy_attrs` gives the
torch-free module a PEP 562 ``__getattr__`` that forwards those names, and :class:`LazyCallable`
stands for a builder in a registry record.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_attrs(module: str, target: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module`` that imports ``target`` for any of ``names``."""
    forwarded = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in forwarded:
            return getattr(importlib.import_module(target), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


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
