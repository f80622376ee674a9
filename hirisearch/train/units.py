"""Which modules activation checkpointing wraps, decided from the cost tree (no torch).

- ``blocks``: every repeated block, the modules at paths ending in ``blocks.<i>`` (a Transformer or
  convolutional block of a stage, a branch block of HRViT or PIIP);
- ``stages``: every module that holds a list of blocks and is called as one module (a stage of
  HIRI-ViT or Swin, a branch of an HRViT group); a family whose blocks sit directly on the model
  (ViT, DeiT, ResFormer) has none, so ``stages`` checkpoints nothing there;
- ``none``: nothing.

The analytic model and the built model read the same list, so the memory costed is the memory of
the model measured.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Literal

from hirisearch.cost.types import CostNode

__all__ = ["CHECKPOINTS", "Checkpoint", "checkpoint_units"]

Checkpoint = Literal["none", "stages", "blocks"]
CHECKPOINTS: tuple[Checkpoint, ...] = ("none", "stages", "blocks")

_BLOCK = re.compile(r"(?:^|\.)blocks\.\d+$")


def checkpoint_units(
    tree: CostNode, checkpoint: Checkpoint, *, not_called: Collection[str] = ()
) -> tuple[str, ...]:
    """Module paths that ``checkpoint`` wraps, in execution order.

    Args:
        tree: the model's cost tree.
        checkpoint: ``none``, ``stages`` or ``blocks``.
        not_called: stage paths the model never calls as one module (a family whose forward runs
            a stage's blocks itself, as PIIP interleaves its branches); they are not stages.
    """
    if checkpoint == "none":
        return ()
    blocks = [path for path, _ in tree.walk() if _BLOCK.search(path)]
    if checkpoint == "blocks":
        return tuple(blocks)
    stages: dict[str, None] = {}
    for path in blocks:
        parent = path.rsplit(".", 2)[0] if path.count(".") >= 2 else ""
        if parent and parent not in not_called:
            stages[parent] = None
    return tuple(stages)
