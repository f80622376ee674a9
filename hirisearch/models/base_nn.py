"""What the families' ``nn.Module`` halves share (imported only when a model is built).

- :func:`pad_image`: a family whose patch does not divide the requested resolution plans
  ``padded_img`` (the next multiple of the patch on each axis) and pads the image with zeros on
  the right and bottom. Padding has no parameters and no MACs; the plan's larger grid carries it into the cost.
- :class:`TimmFromPlan`: the timm-backed families (Swin, ViT/DeiT) hand the fields every plan
  of theirs has to the timm constructor in one place, and pad the image before timm's own
  ``forward_features``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from hirisearch.models.swin import SwinPlan
    from hirisearch.models.vit import ViTPlan


def pad_image(x: torch.Tensor, pad: int | tuple[int, int]) -> torch.Tensor:
    """``x`` (N, C, H, W) with ``pad`` zero rows below and zero columns to the right (a pair:
    ``(rows, columns)``)."""
    rows, cols = (pad, pad) if isinstance(pad, int) else pad
    return F.pad(x, (0, cols, 0, rows)) if rows or cols else x


class TimmFromPlan:
    """Mixin before a timm model class: ``class Swin(TimmFromPlan, SwinTransformer)``.

    ``super().__init__(plan, device=..., dtype=..., **family_kwargs)`` builds the timm model at
    the padded size from the common plan fields plus the family's own keywords (depths, heads,
    window, ...); ``forward_features`` pads the image first.
    """

    image_pad: tuple[int, int] = (0, 0)

    def __init__(
        self, plan: SwinPlan | ViTPlan, *, device: Any = None, dtype: Any = None, **family: Any
    ) -> None:
        super().__init__(  # type: ignore[call-arg]
            img_size=plan.padded_img,
            patch_size=plan.patch_size,
            in_chans=plan.in_chans,
            num_classes=plan.num_classes,
            embed_dim=plan.embed_dim,
            mlp_ratio=plan.mlp_ratio,
            qkv_bias=plan.qkv_bias,
            drop_path_rate=plan.drop_path_rate,
            device=device,
            dtype=dtype,
            **family,
        )
        (ph, pw), (h, w) = plan.padded_img, plan.img_size
        self.image_pad = (ph - h, pw - w)

    def forward_features(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        parent = super().forward_features  # type: ignore[misc]
        return parent(pad_image(x, self.image_pad), *args, **kwargs)
