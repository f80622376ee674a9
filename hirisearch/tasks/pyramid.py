"""The feature pyramid a dense backbone hands to a neck or head: one level per output map."""

from __future__ import annotations

from dataclasses import dataclass

Hw = tuple[int, int]


@dataclass(frozen=True)
class Level:
    """One output map of a pyramid: ``channels`` x ``hw`` (height, width), ``stride`` pixels of
    the input per cell (the map's nominal stride; a padded grid may hold one more cell)."""

    channels: int
    hw: Hw
    stride: int


#: The levels of a backbone's (or a neck's) output, finest first.
Pyramid = tuple[Level, ...]


def describe(pyramid: Pyramid) -> str:
    """``96@128x128/4, 192@64x64/8``: each level's channels, grid and stride."""
    return ", ".join(f"{lv.channels}@{lv.hw[0]}x{lv.hw[1]}/{lv.stride}" for lv in pyramid)
