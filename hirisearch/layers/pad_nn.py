"""Padding the input image to the size the plan built the model for.

A family whose patch does not divide the requested resolution plans ``padded_img`` (the next
multiple of the patch) and pads the image with zeros on the right and bottom. Padding has no
parameters and no MACs, so it has no cost twin: the plan's larger grid carries its effect into
the analytic cost.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def pad_image(x: torch.Tensor, pad: int) -> torch.Tensor:
    """``x`` (N, C, H, W) with ``pad`` zero rows below and ``pad`` zero columns to the right."""
    return F.pad(x, (0, pad, 0, pad)) if pad else x


class PadsImage:
    """Mixin for a timm backbone: :func:`pad_image` by ``image_pad`` before the backbone's own
    ``forward_features``. List it before the timm class (``class Swin(PadsImage, SwinTransformer)``)
    and set ``self.image_pad = plan.padded_img - plan.img_size`` in ``__init__``."""

    image_pad: int = 0

    def forward_features(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        parent = super().forward_features  # type: ignore[misc]
        return parent(pad_image(x, self.image_pad), *args, **kwargs)
