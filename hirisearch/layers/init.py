"""Weight initialisation shared by the families built here (values only; no effect on cost)."""

from __future__ import annotations

from torch import nn
from torch.nn.init import trunc_normal_


def init_weights(m: nn.Module) -> None:
    """ViT-style init: trunc-normal(0.02) linears, Kaiming (fan-out) convs, zero biases.

    Apply with ``model.apply(init_weights)``; skip it on the meta device, where it only costs time.
    """
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
