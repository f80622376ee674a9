"""Operator counts per call site, for models whose modules are shared by several parents.

torch's ``FlopCounterMode`` files a module's operators under one name per module object, the
last name a parent gave it; ``named_modules()`` keeps the first. For a module registered under
two parents (weight tying, a shared positional encoding), the counts then land under one path for
both calls and the other path counts nothing, so a parent's share misses work its child did. Here
each call is attributed to the path it was called through: global forward hooks
(``register_module_forward_pre_hook`` / ``register_module_forward_hook``, torch's public API) read
the counter's per-operator totals (``get_flop_counts()["Global"]``) when a module is entered and
when it returns, and add the difference to the caller's path for that child.

The path of a call is the caller's path plus the child's name in the caller (the module on top of
the stack of modules being run); a module called from elsewhere than its parent keeps its first
name; a module outside the model (made inside a forward) is part of its caller.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.utils.flop_counter import FlopCounterMode


def has_shared_modules(model: nn.Module) -> bool:
    """Whether a module of ``model`` is registered under more than one path."""
    seen: set[int] = set()
    for _, m in model.named_modules(remove_duplicate=False):
        if id(m) in seen:
            return True
        seen.add(id(m))
    return False


def site_order(model: nn.Module) -> list[str]:
    """Every path a module can be called through, in module order (shared modules repeated)."""
    return [name for name, _ in model.named_modules(remove_duplicate=False)]


class CallSites:
    """While active (inside ``counter``), the operator counts of every call, by call path."""

    def __init__(self, model: nn.Module, counter: FlopCounterMode) -> None:
        self.model = model
        self.counter = counter
        self.first = {id(m): p for p, m in model.named_modules()}
        self._children: dict[int, dict[int, str]] = {}
        self._stack: list[tuple[nn.Module, str, dict[Any, int]]] = []
        self.per_path: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        self.linear_paths: set[str] = set()

    def _child_name(self, parent: nn.Module, child: nn.Module) -> str | None:
        names = self._children.get(id(parent))
        if names is None:
            names = self._children[id(parent)] = {}
            for n, c in parent.named_children():
                names.setdefault(id(c), n)
        return names.get(id(child))

    def _path(self, module: nn.Module) -> str | None:
        if not self._stack:
            return "" if module is self.model else self.first.get(id(module))
        parent, parent_path, _ = self._stack[-1]
        name = self._child_name(parent, module)
        if name is None:
            return self.first.get(id(module))
        return f"{parent_path}.{name}" if parent_path else name

    def _totals(self) -> dict[Any, int]:
        return dict(self.counter.get_flop_counts().get("Global", {}))

    def _enter(self, module: nn.Module, args: Any) -> None:
        path = self._path(module)
        if path is not None:
            self._stack.append((module, path, self._totals()))

    def _exit(self, module: nn.Module, args: Any, output: Any) -> None:
        if not self._stack or self._stack[-1][0] is not module:
            return  # a module outside the model: its work is its caller's
        _, path, before = self._stack.pop()
        ops = self.per_path[path]
        for op, flops in self._totals().items():
            if flops - before.get(op, 0):
                ops[op] += flops - before.get(op, 0)
        if isinstance(module, nn.Linear):
            self.linear_paths.add(path)

    @contextmanager
    def active(self) -> Iterator[CallSites]:
        hooks = (
            register_module_forward_pre_hook(self._enter),
            register_module_forward_hook(self._exit, always_call=True),
        )
        try:
            yield self
        finally:
            for h in hooks:
                h.remove()

    def counts(self) -> dict[str, dict[Any, int]]:
        """``{call path: {operator: torch flops}}`` (paths that ran an operator)."""
        return {p: dict(ops) for p, ops in self.per_path.items() if ops}
