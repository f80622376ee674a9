"""Input sizes: how one is given, checked, shown and written, and the one-line error for the sizes a
model cannot take.

A size is ``(height, width)`` everywhere inside the package; callers may give an int ``R`` for the
square ``R x R`` (:func:`as_hw`), the command line ``448`` or ``800x1280`` (:func:`parse_size`). It
is shown as ``448`` or ``800x1280`` (:func:`size_label`) and held in results and written to JSON as
``448`` or ``[800, 1280]`` (:func:`size_value`), so a square size reads as it always has.

Each family states its rule as a predicate ``reason((height, width)) -> str | None`` (``None``:
valid), usually per axis through :func:`axis_reason`, which names the refused axis; this module
searches the valid sizes nearest to a refused one, so every family's error reads the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from hirisearch.errors import HirisearchError, ResolutionError

#: How far (in steps) the search for valid sizes looks on each side of a refused size.
SEARCH_STEPS = 256

#: ``(height, width)`` in pixels.
Hw = tuple[int, int]
#: A size as callers give it: an int ``R`` (a square ``R x R``) or ``(height, width)``.
Size = int | tuple[int, int]
#: The axes of a size, in order.
AXES = ("height", "width")


def as_hw(img_size: Size) -> Hw:
    """``R -> (R, R)``; ``(height, width)`` (a tuple or a list) as it is.

    Raises:
        HirisearchError: not a positive int or a pair of positive ints.
    """
    hw = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    if len(hw) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in hw):
        raise HirisearchError(
            f"img_size must be an int or a (height, width) pair of ints, but got {img_size!r}"
        )
    if min(hw) <= 0:
        raise HirisearchError(f"img_size must be positive, but got {img_size!r}")
    return hw  # type: ignore[return-value]


def size_label(img_size: Size | list[int]) -> str:
    """How a size is shown: ``448`` for a square, ``800x1280`` (height x width) otherwise."""
    h, w = as_hw(img_size)  # type: ignore[arg-type]
    return str(h) if h == w else f"{h}x{w}"


def size_dims(img_size: Size | list[int]) -> str:
    """Both sides, always: ``448x448``, ``800x1280`` (``input 448x448``)."""
    h, w = as_hw(img_size)  # type: ignore[arg-type]
    return f"{h}x{w}"


def size_value(img_size: Size | list[int]) -> int | tuple[int, int]:
    """How a size is held in results and written to JSON: ``448`` for a square (an int, as
    documents have always had it), ``(800, 1280)`` otherwise (``[800, 1280]`` in JSON)."""
    h, w = as_hw(img_size)  # type: ignore[arg-type]
    return h if h == w else (h, w)


def size_csv(img_size: Size | list[int]) -> int | str:
    """How a size is written to a CSV cell: ``448`` for a square, ``800x1280`` otherwise."""
    h, w = as_hw(img_size)  # type: ignore[arg-type]
    return h if h == w else f"{h}x{w}"


def size_key(img_size: Size | list[int]) -> tuple[int, int]:
    """A sort key for sizes given as ints or pairs: by area, then height."""
    h, w = as_hw(img_size)  # type: ignore[arg-type]
    return (h * w, h)


def size_side(img_size: Size | list[int]) -> float:
    """One number for a size on a resolution axis: the side of the square of the same area
    (the side itself for a square)."""
    h, w = as_hw(img_size)  # type: ignore[arg-type]
    return h if h == w else math.sqrt(h * w)


def parse_size(text: str, *, option: str = "--res") -> Size:
    """``"448"`` -> 448; ``"800x1280"`` or ``"800X1280"`` -> ``(800, 1280)`` (height x width).

    Raises:
        HirisearchError: anything else, or a side outside ``1..MAX_IMG_SIZE``, in one line.
    """
    from hirisearch.limits import MAX_IMG_SIZE

    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise HirisearchError(
            f"{option}: expected a size R or HxW (height x width, e.g. 800x1280), but got {text!r}"
        )
    sides = [int(g) for g in match.groups() if g is not None]
    for side in sides:
        if not 0 < side <= MAX_IMG_SIZE:
            raise HirisearchError(
                f"{option} must be a positive integer <= {MAX_IMG_SIZE}"
                f"{' per side' if len(sides) == 2 else ''}, but got {text.strip()}"
            )
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])


def is_size(text: str) -> bool:
    """``text`` reads as a size (``448``, ``800x1280``)."""
    return _SIZE.fullmatch(text) is not None


_SIZE = re.compile(r"(\d+)(?:[xX](\d+))?", re.ASCII)


def axis_reason(hw: Hw, rule: Callable[[int], str | None]) -> str | None:
    """A per-axis rule on ``(height, width)``: ``rule(side)`` for a square (its words as they
    are), else the first refused axis named (``"width 1000: not a multiple of 32"``)."""
    h, w = hw
    if h == w:
        return rule(h)
    for axis, side in zip(AXES, hw, strict=True):
        why = rule(side)
        if why is not None:
            return f"{axis} {side}: {why}"
    return None


def nearest_valid(
    reason: Callable[[int], str | None], size: int, *, step: int, count: int = 2
) -> tuple[int, ...]:
    """The ``count`` valid sizes closest to ``size`` among multiples of ``step`` (ties: smaller)."""
    base = size // step * step
    found: list[int] = []
    for k in range(SEARCH_STEPS):
        for cand in (base - k * step, base + (k + 1) * step):
            if cand >= step and cand not in found and reason(cand) is None:
                found.append(cand)
        if len(found) >= count:
            break
    return tuple(sorted(found, key=lambda s: (abs(s - size), s))[:count])


def nearest_valid_hw(
    reason: Callable[[Hw], str | None], hw: Hw, *, step: int, count: int = 2
) -> tuple[Hw, ...]:
    """The ``count`` valid sizes closest to ``hw``: an axis the rule takes (as a square side) is
    kept, a refused one moves to its nearest valid sides."""

    def side(s: int) -> str | None:
        return reason((s, s))

    h, w = hw
    if h == w:
        return tuple((s, s) for s in nearest_valid(side, h, step=step, count=count))
    hs = (h,) if side(h) is None else nearest_valid(side, h, step=step, count=count)
    ws = (w,) if side(w) is None else nearest_valid(side, w, step=step, count=count)
    found = [(a, b) for a in hs for b in ws if reason((a, b)) is None]
    return tuple(sorted(found, key=lambda c: (abs(c[0] - h) + abs(c[1] - w), c))[:count])


def check_resolution(
    reason: Callable[[Any], str | None],
    size: Size,
    *,
    model: str,
    step: int,
    hint: str = "",
    rule: str = "",
) -> None:
    """Raise :class:`ResolutionError` (field ``img_size``) when ``reason`` refuses ``size``.

    Args:
        reason: the rule on ``(height, width)`` when ``size`` is a pair (a family's), or on one
            side when ``size`` is an int (a model whose rule is stated per side, as timm's).
        size: the size asked.
        rule: the family's whole rule in one phrase ("are multiples of 32 and >= 64"), for
            families whose rule does not depend on the size asked; the message then states it
            instead of the per-size reason (and names the refused axis of a non-square size).
    """
    why = reason(size)
    if why is None:
        return
    if isinstance(size, int):
        found: tuple[Size, ...] = nearest_valid(reason, size, step=step)
    else:
        found = nearest_valid_hw(reason, as_hw(size), step=step)
    near = " or ".join(size_label(s) for s in found) or "none"
    extra = f"; {hint}" if hint else ""
    shown = size_label(size)
    square = isinstance(size, int) or size[0] == size[1]
    if rule:
        axis = "" if square else f" ({why.partition(':')[0]})"
        head = f"{model} takes input sizes that {rule}, but got {shown}{axis}"
    else:
        head = f"{model} cannot take input size {shown}: {why}"
    raise ResolutionError(f"{head}; nearest valid: {near}{extra}", field="img_size")
