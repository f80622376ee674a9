"""The feature pyramid a dense backbone hands to a neck or a head."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One output map of a dense backbone: its channels, its grid (height, width) and its
    nominal stride (input pixels per grid cell)."""

    channels: int
    hw: tuple[int, int]
    stride: int


#: The levels of a dense backbone, finest first.
Pyramid = tuple[Level, ...]
