"""The ``nn.Module`` half of :mod:`hirisearch.tasks.timm_backbone`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hirisearch.errors import SpecError
from hirisearch.tasks.timm_backbone import TimmDensePlan


class TimmFeatures(nn.Module):
    """timm's features-only network as ``model``; its maps in (B, C, H, W) layout."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.nhwc = getattr(model, "output_fmt", "NCHW") == "NHWC"  # Swin's stages

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = self.model(x)
        return [o.permute(0, 3, 1, 2) for o in outs] if self.nhwc else list(outs)


def build_timm_dense(plan: TimmDensePlan, *, device: Any = None, dtype: Any = None) -> nn.Module:
    """The features network of ``plan`` with random weights.

    Raises:
        SpecError: timm cannot build the model ``features_only``.
    """
    import timm

    h, w = plan.img_hw
    kwargs: dict[str, Any] = {"img_size": h if h == w else (h, w)} if plan.takes_img_size else {}
    try:
        model = timm.create_model(
            plan.name, pretrained=False, features_only=True, out_indices=plan.out_indices,
            device=device, **kwargs,
        )  # fmt: skip
    except (RuntimeError, AssertionError, TypeError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SpecError(
            f"timm cannot build timm:{plan.name} features_only ({first[:160]})", field="backbone"
        ) from None
    return TimmFeatures(model if dtype is None else model.to(dtype))
