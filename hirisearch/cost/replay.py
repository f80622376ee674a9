"""Count each distinct block once in a meta-device trace, and replay the count for its repeats.

A backbone is mostly repeats: the six Transformer blocks of a HIRI-ViT stage, the 24 of a ViT-L,
the 10,000 of a stress-test spec are structurally identical and see identically shaped inputs. On
the ``meta`` device a forward pass has no data, so what a module does is a function of its code,
its attributes, its parameters' shapes and its inputs' shapes alone. :class:`Replayer` exploits that:

* every module gets a *structural signature*: its class, training flag, plain attributes (numbers,
  strings, dtypes, ...; any other object by identity, so anything unusual is never merged),
  parameter and buffer shapes, forward hooks, and its children's signatures, recursively;
* the first call of a module with a given (signature, input metadata) runs normally; later calls
  of any module with the same key are not run: their output is rebuilt from the recorded output
  metadata, and (dst path <- src path) is recorded;
* :func:`expand` then copies the first module's per-path operator counts onto the repeat's paths
  and adds them to the repeat's ancestors, so the counts are exactly those of a full trace (tests
  compare both on every shipped spec).

:class:`MetaKernelCache` does the same one level down, for single operators.

Only used on the meta device: an eager run computes real values that later layers may depend on.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

#: nn.Module's own bookkeeping attributes (hooks are checked separately).
_MODULE_INTERNALS = frozenset(vars(nn.Module()))
_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_pre_hooks_with_kwargs",
)
_PLAIN = (
    int,
    float,
    bool,
    str,
    bytes,
    type(None),
    torch.dtype,
    torch.device,
    torch.Size,
    torch.memory_format,
    torch.layout,
)


class _Unkeyable(Exception):
    """An argument or output that metadata cannot stand for: the module always runs."""


def _attr_key(v: Any) -> Any:
    if isinstance(v, _PLAIN):
        return (type(v), v)
    if isinstance(v, (tuple, list)):
        return (type(v), tuple(_attr_key(x) for x in v))
    if isinstance(v, torch.Tensor):
        return ("tensor", tuple(v.shape), v.dtype, v.device.type)
    return ("id", id(v))  # functions, classes and shared objects merge; per-instance ones never


def _arg_key(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        if v.device.type != "meta":
            raise _Unkeyable
        return ("t", tuple(v.shape), v.stride(), v.storage_offset(), v.dtype, v.requires_grad)
    if isinstance(v, _PLAIN):
        return (type(v), v)
    if isinstance(v, (tuple, list)):
        return (type(v), tuple(_arg_key(x) for x in v))
    raise _Unkeyable


def _skeleton(v: Any) -> Any:
    """Output metadata from which :func:`_rebuild` makes an equivalent meta output."""
    if isinstance(v, torch.Tensor):
        if v.device.type != "meta":
            raise _Unkeyable
        return ("t", tuple(v.shape), v.stride(), v.dtype, v.requires_grad)
    if isinstance(v, _PLAIN):
        return ("v", v)
    if isinstance(v, (tuple, list)):
        return (type(v), tuple(_skeleton(x) for x in v))
    raise _Unkeyable


def _rebuild(s: Any) -> Any:
    tag = s[0]
    if tag == "t":
        _, shape, stride, dtype, grad = s
        out = torch.empty_strided(shape, stride, dtype=dtype, device="meta")
        return out.requires_grad_() if grad else out
    if tag == "v":
        return s[1]
    return tag(_rebuild(x) for x in s[1])


def _holds_module(v: Any) -> bool:
    if isinstance(v, nn.Module):
        return True
    if isinstance(v, (list, tuple, set, frozenset)):
        return any(_holds_module(x) for x in v)
    if isinstance(v, dict):
        return any(_holds_module(x) for x in v.values())
    return False


def signatures(model: nn.Module) -> tuple[dict[int, int], set[int]]:
    """``(id(module) -> structural signature id, ids of replayable modules)`` for ``model``.

    A module is replayable unless its subtree reaches a module that is also reachable from
    elsewhere (registered under two parents, like CoaT's shared convolutional position encodings,
    or held in a plain attribute): the counter scopes such a module by its first path, so a replay
    could not place its share. Children are computed first; a shared module once.
    """
    interned: dict[Any, int] = {}
    sig: dict[int, int] = {}
    ok: set[int] = set()
    paths: dict[int, int] = defaultdict(int)
    for _, m in model.named_modules(remove_duplicate=False):
        paths[id(m)] += 1

    def visit(m: nn.Module) -> int:
        done = sig.get(id(m))
        if done is not None:
            return done
        kids = tuple((n, visit(c)) if c is not None else (n, -1) for n, c in m._modules.items())
        plain = [(k, v) for k, v in vars(m).items() if k not in _MODULE_INTERNALS]
        attrs = tuple(sorted((k, _attr_key(v)) for k, v in plain))
        hooks = tuple(tuple(id(h) for h in getattr(m, name, {}).values()) for name in _HOOK_DICTS)
        key = (
            type(m),
            m.training,
            attrs,
            hooks,
            tuple(
                (n, tuple(p.shape), p.dtype, p.requires_grad) if p is not None else (n, None)
                for n, p in m._parameters.items()
            ),
            tuple(
                (n, tuple(b.shape), b.dtype) if b is not None else (n, None)
                for n, b in m._buffers.items()
            ),
            kids,
        )
        sig[id(m)] = interned.setdefault(key, len(interned))
        if (
            paths[id(m)] <= 1
            and all(id(c) in ok for c in m._modules.values() if c is not None)
            and not any(_holds_module(v) for _, v in plain)
        ):
            ok.add(id(m))
        return sig[id(m)]

    visit(model)
    return sig, ok


#: Code objects of ``nn.Module.__call__``'s machinery: a module called any other way (a parent
#: calling ``child.forward(x)`` directly) is attributed to its caller by the counter, so it runs.
_CALL_CODES = frozenset(
    [nn.Module._call_impl.__code__]
    + [c for c in nn.Module._call_impl.__code__.co_consts if hasattr(c, "co_name")]
)


class Replayer:
    """While active, modules repeating an earlier (signature, input) are replayed, not run."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.replays: list[tuple[str, str]] = []  # (dst path, src path), in call order
        self.called: set[str] = set()  # paths of the modules called through __call__
        self._seen: dict[Any, tuple[str, Any]] = {}

    @contextmanager
    def active(self) -> Iterator[Replayer]:
        sig, replayable = signatures(self.model)
        count: dict[int, int] = defaultdict(int)
        for m in self.model.modules():
            count[sig[id(m)]] += 1
        wrapped: list[nn.Module] = []
        paths = {id(m): p for p, m in self.model.named_modules()}
        called_ids: set[int] = set()

        def note_call(module: nn.Module, args: Any) -> None:
            called_ids.add(id(module))

        # The counter scopes operators by the same global hooks, so "called" here is exactly
        # "has a scope of its own" there (a module whose forward is invoked directly has none).
        hook = nn.modules.module.register_module_forward_pre_hook(note_call)
        try:
            for path, m in self.model.named_modules():
                # Leaves are one operator each: replaying them would save nothing.
                if (
                    path
                    and count[sig[id(m)]] > 1
                    and m._modules
                    and id(m) in replayable
                    and "forward" not in vars(m)
                ):
                    m.forward = self._wrap(m, path, sig[id(m)])  # type: ignore[method-assign]
                    wrapped.append(m)
            yield self
        finally:
            hook.remove()
            for m in wrapped:
                del m.forward
            self.called = {paths[i] for i in called_ids if i in paths}

    def _wrap(self, m: nn.Module, path: str, signature: int) -> Any:
        forward = type(m).forward.__get__(m)
        seen = self._seen
        replays = self.replays

        def replayable_forward(*args: Any, **kwargs: Any) -> Any:
            if sys._getframe(1).f_code not in _CALL_CODES:
                return forward(*args, **kwargs)
            try:
                key = (signature, _arg_key(args), _arg_key(tuple(sorted(kwargs.items()))))
            except _Unkeyable:
                return forward(*args, **kwargs)
            hit = seen.get(key)
            if hit is not None:
                replays.append((path, hit[0]))
                return _rebuild(hit[1])
            out = forward(*args, **kwargs)
            try:
                seen[key] = (path, _skeleton(out))
            except _Unkeyable:
                pass
            return out

        return replayable_forward


def expand(
    per_path: dict[str, dict[Any, int]],
    replays: list[tuple[str, str]],
    model: nn.Module,
    called: set[str],
) -> dict[str, dict[Any, int]]:
    """Per-path counts of a full trace of ``model`` from a trace with ``replays``.

    ``per_path`` maps module paths (root ``""``) to ``{operator: count}``; ``called`` holds the
    paths of the modules that were called (a container iterated by its parent, such as an
    ``nn.ModuleList``, is not: it gets no entry, here as in a full trace). Replays are applied in
    call order, so a source whose own subtree contained replays is complete before it is copied.
    """
    if not replays:
        return per_path
    names = [n for n, _ in model.named_modules()]
    out = {p: dict(ops) for p, ops in per_path.items()}
    index = {n: i for i, n in enumerate(names)}
    depth = [n.count(".") + 1 if n else 0 for n in names]
    end = [0] * len(names)  # named_modules is pre-order: a subtree is a contiguous range
    stack: list[int] = []
    for i, d in enumerate(depth):
        while stack and depth[stack[-1]] >= d:
            end[stack.pop()] = i
        stack.append(i)
    for i in stack:
        end[i] = len(names)
    for dst, src in replays:
        i = index[src]
        for p in names[i : end[i]]:
            ops = out.get(p)
            if ops:
                q = dst + p[len(src) :]
                tgt = out.setdefault(q, {})
                for op, v in ops.items():
                    tgt[op] = tgt.get(op, 0) + v
        total = out.get(src, {})
        parts = dst.split(".")
        for k in range(len(parts)):
            anc = ".".join(parts[:k])
            if anc and anc not in called:
                continue
            tgt = out.setdefault(anc, {})
            for op, v in total.items():
                tgt[op] = tgt.get(op, 0) + v
    return out


_UNCACHEABLE_TAGS = frozenset(
    [
        torch.Tag.nondeterministic_seeded,
        torch.Tag.dynamic_output_shape,
        torch.Tag.data_dependent_output,
        torch.Tag.inplace_view,
        torch.Tag.maybe_aliasing_or_mutating,
    ]
)


def _functional(func: Any) -> bool:
    """True for operators whose meta output is a fresh tensor determined by the inputs' metadata."""
    schema = func._schema
    return (
        not schema.is_mutable
        and all(r.alias_info is None for r in schema.returns)
        and not _UNCACHEABLE_TAGS.intersection(func.tags)
    )


class MetaKernelCache:
    """Memoises meta kernels within one count: ``(operator, input metadata) -> output metadata``.

    torch implements most meta kernels in Python (``torch._refs`` decompositions: 0.2 to 7 ms per
    call for a GELU, a norm or an upsampling); a block's operators repeat across its branches and
    its stage, and a hit costs microseconds. Only functional operators (no mutation, no aliasing,
    no randomness or data-dependent shapes) on meta tensors are cached; anything else runs.
    """

    def __init__(self) -> None:
        self._results: dict[Any, Any] = {}
        self._functional: dict[Any, bool] = {}
        self.hits = 0

    def __call__(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ok = self._functional.get(func)
        if ok is None:
            ok = self._functional[func] = _functional(func)
        if not ok:
            return func(*args, **kwargs)
        try:
            key = (func, _arg_key(args), _arg_key(tuple(sorted(kwargs.items()))))
        except _Unkeyable:
            return func(*args, **kwargs)
        hit = self._results.get(key)
        if hit is not None:
            self.hits += 1
            return _rebuild(hit)
        out = func(*args, **kwargs)
        try:
            self._results[key] = _skeleton(out)
        except _Unkeyable:
            pass
        return out
