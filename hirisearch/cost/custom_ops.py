"""Counts the user gives for operators the traced counter does not know (as fvcore's
``set_op_handle``): ``hirisearch.register_op_count(op, fn)`` for every count that follows, or
``custom_ops={op: fn}`` for one call.

``op`` names an operator as it reaches torch's dispatcher: an aten operator (``"aten::cumsum"``,
``"cumsum"``, ``torch.ops.aten.cumsum``; the names the "uncounted ops" row lists) or a custom
operator defined with ``torch.library`` (``"mylib::fused_block"``, ``torch.ops.mylib.fused_block``).
Operators that torch decomposes before dispatch (``einsum``, ``linear``) never reach it: count
what they decompose into. ``fn(*args, out_shape=..., **kwargs)`` receives the operator's
arguments with every tensor replaced by its shape (a ``torch.Size``) and the output's shape, and
returns the operator's **MACs** (multiply-adds counted once, the unit of every count here); a
count for a known operator replaces the built-in one. Results list the operators whose count came
from the user (``custom_ops``).

This module is torch-free: names are resolved to operators when a count runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hirisearch.errors import HirisearchError

OpCount = Callable[..., int]

_REGISTERED: dict[str, OpCount] = {}


def op_name(op: Any) -> str:
    """``"namespace::name"`` of an operator or its name (``"cumsum"`` is ``"aten::cumsum"``;
    ``"aten.cumsum"`` and ``torch.ops.aten.cumsum`` are too)."""
    if isinstance(op, str):
        text = op.strip()
        ns, sep, name = text.partition("::") if "::" in text else text.rpartition(".")
        if not sep:
            ns, name = "aten", text
        name = name.split(".")[0] if "::" in text else name
        if not (ns.isidentifier() and name.isidentifier()):
            raise HirisearchError(
                f"an operator is named namespace::name (e.g. aten::cumsum), but got {op!r}"
            )
        return f"{ns}::{name}"
    packet = getattr(op, "overloadpacket", op)
    if callable(getattr(packet, "overloads", None)):  # a torch.ops operator: str is "ns.name"
        return op_name(str(packet))
    raise HirisearchError(
        "an operator is a name (e.g. 'aten::cumsum') or a torch.ops operator, "
        f"but got {type(op).__name__}"
    )


def register_op_count(op: Any, fn: OpCount) -> str:
    """Count operator ``op`` with ``fn`` (MACs) in every count from now on; returns its name.

    Raises:
        HirisearchError: ``op`` is not an operator name, or ``fn`` is not callable.
    """
    if not callable(fn):
        raise HirisearchError(f"a count is a function returning MACs, but got {type(fn).__name__}")
    name = op_name(op)
    _REGISTERED[name] = fn
    return name


def unregister_op_count(op: Any) -> None:
    """Forget the count registered for ``op`` (nothing if there is none)."""
    _REGISTERED.pop(op_name(op), None)


def op_counts(extra: Mapping[Any, OpCount] | None = None) -> dict[str, OpCount]:
    """The registered counts, with ``extra`` (one call's ``custom_ops``) over them."""
    out = dict(_REGISTERED)
    for op, fn in (extra or {}).items():
        if not callable(fn):
            raise HirisearchError(
                f"custom_ops: the count of {op!r} is a function returning MACs, "
                f"but got {type(fn).__name__}"
            )
        out[op_name(op)] = fn
    return out
