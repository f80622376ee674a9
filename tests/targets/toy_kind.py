"""A kind of target registered by a test: ``toy:<side>``, a model of that default size with no
analytic cost (what a new kind's module provides)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hirisearch.models.base import Convention
from hirisearch.targets.core import SizedTarget, Target


@dataclass(frozen=True)
class ToySource:
    side: int
    name: str = "toy"
    family: str = "toy:Toy"
    conventions: tuple[Convention, ...] = ()

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        hw = (self.side, self.side) if img_size is None else img_size
        return SizedTarget(target, img_size=hw, input_shape=(3, *hw))

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> Any:
        from torch import nn

        return nn.Conv2d(3, 8, 3, device=device, dtype=dtype)

    def out_grid(self, sized: SizedTarget) -> tuple[int, int] | None:
        return None


def source(text: str) -> ToySource:
    return ToySource(int(text))
