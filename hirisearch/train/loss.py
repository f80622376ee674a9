"""The stand-in loss every training step here minimises, in one place.

A backbone has no loss of its own; a training step needs a scalar. The loss is the mean of the
squares of every output tensor, computed in fp32 (``out.float().pow(2).mean()``, summed over the
outputs of a model that returns several). Its memory is the fp32 copy of each output that ``pow``
keeps for the backward pass (the logits of a classifier, the feature maps of a dense backbone)
and, in its backward, four fp32 tensors of the output's size beside it, small for a classifier
but the peak under an R-CNN head in bf16 (its mask logits). Its analytic twin is
:meth:`hirisearch.train.tape.Tape.loss`.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["output_tensors", "training_loss"]


def output_tensors(out: Any) -> list[torch.Tensor]:
    """The tensors of a model's output: a tensor, or tensors in (nested) lists, tuples, dicts."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for item in out for t in output_tensors(item)]
    return []


def training_loss(out: Any) -> torch.Tensor:
    """Mean of squares of every tensor in ``out`` (a tensor, or a nest of tensors), in fp32."""
    tensors = output_tensors(out)
    loss = tensors[0].float().pow(2).mean()
    for t in tensors[1:]:
        loss = loss + t.float().pow(2).mean()
    return loss
