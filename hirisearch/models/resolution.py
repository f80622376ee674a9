"""Input resolutions a model can take, and the one-line error for those it cannot.

Each family states its rule as a predicate ``reason(size) -> str | None`` (``None``: valid); this
module searches the valid sizes nearest to a refused one, so every family's error reads the same.
"""

from __future__ import annotations

from collections.abc import Callable

from hirisearch.errors import ResolutionError

#: How far (in steps) the search for valid sizes looks on each side of a refused size.
SEARCH_STEPS = 256


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


def check_resolution(
    reason: Callable[[int], str | None],
    size: int,
    *,
    model: str,
    step: int,
    hint: str = "",
    rule: str = "",
) -> None:
    """Raise :class:`ResolutionError` (field ``img_size``) when ``reason(size)`` refuses ``size``.

    Args:
        rule: the family's whole rule in one phrase ("are multiples of 32 and >= 64"), for
            families whose rule does not depend on the size asked; the message then states it
            instead of the per-size reason.
    """
    why = reason(size)
    if why is None:
        return
    near = " or ".join(str(s) for s in nearest_valid(reason, size, step=step)) or "none"
    extra = f"; {hint}" if hint else ""
    head = (
        f"{model} takes input sizes that {rule}, but got {size}"
        if rule
        else f"{model} cannot take input size {size}: {why}"
    )
    raise ResolutionError(f"{head}; nearest valid: {near}{extra}", field="img_size")
