"""Models without a spec: ``timm:<model_name>`` refers to any model timm can build.

The model is built with ``pretrained=False`` (no weights are ever downloaded) at the requested
resolution (``img_size`` is passed where the model's constructor takes it: ViT, Swin, ...; CNNs such
as ResNet and ConvNeXt take any size as they are) and counted by the traced counter only. On the
``meta`` device ``F.scaled_dot_product_attention`` decomposes into matmuls, so the attention of timm's
fused-attention models is counted (eager fvcore / ptflops / CPU ``FlopCounterMode`` miss it).

Resolution rule: a model with a patch embedding takes multiples of its patch size; any model takes
sizes no smaller than its total stride. Swin-like models pad windows that do not divide a stage grid,
as timm does, and the count includes the padding.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hirisearch.errors import UnknownModelError
from hirisearch.models.base import Convention
from hirisearch.models.resolution import check_resolution
from hirisearch.targets.core import SizedTarget, Target, square_side

if TYPE_CHECKING:
    from torch import nn

PREFIX = "timm"


@dataclass(frozen=True)
class TimmModel:
    """What the tools need to know about one timm model, read from a meta-device instance: the
    source of a ``timm:<name>`` target (counted by the traced counter only)."""

    name: str
    architecture: str  # the model class (``SwinTransformer``)
    default_img_size: int
    in_chans: int
    takes_img_size: bool
    patch_size: int | None
    reduction: int  # total stride of the last feature map

    def reason(self, size: int) -> str | None:
        """Why ``size`` is refused, or ``None``."""
        if size < self.reduction:
            return f"smaller than the network's total stride {self.reduction}"
        if self.patch_size and size % self.patch_size:
            return f"not a multiple of the patch size {self.patch_size}"
        return None

    def check(self, size: int) -> None:
        check_resolution(
            self.reason,
            size,
            model=f"{PREFIX}:{self.name}",
            step=self.patch_size or self.reduction,
        )

    @property
    def family(self) -> str:
        return f"{PREFIX}:{self.architecture}"

    @property
    def conventions(self) -> tuple[Convention, ...]:
        return ()

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        size = self.default_img_size
        if img_size is not None:
            size = square_side(img_size, model=f"{PREFIX}:{self.name}")
        self.check(size)
        return SizedTarget(target, img_size=(size, size), input_shape=(self.in_chans, size, size))

    def out_grid(self, sized: SizedTarget) -> tuple[int, int]:
        """The last feature map's grid (timm rounds partial strides up)."""
        return (-(-sized.img_size[0] // self.reduction), -(-sized.img_size[1] // self.reduction))

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> nn.Module:
        """Build the model at ``sized.img_size`` with random weights."""
        import timm

        size = sized.resolution
        kwargs: dict[str, Any] = {"img_size": size} if self.takes_img_size else {}
        model = timm.create_model(self.name, pretrained=False, device=device, **kwargs)
        return model if dtype is None else model.to(dtype)


@lru_cache(maxsize=1)
def _timm_names() -> tuple[str, ...]:
    import timm

    return tuple(timm.list_models())


def closest_names(name: str, count: int = 3) -> list[str]:
    """The timm model names closest to ``name`` (difflib ratio)."""
    return difflib.get_close_matches(name, _timm_names(), n=count, cutoff=0.4)


@lru_cache(maxsize=64)
def timm_model(name: str) -> TimmModel:
    """Inspect timm model ``name`` (built once on the ``meta`` device); unknown names list the
    closest valid ones."""
    import timm

    if name not in _timm_names():
        near = closest_names(name)
        hint = f"; closest: {', '.join(near)}" if near else ""
        raise UnknownModelError(f"unknown timm model {name!r}{hint}")
    from hirisearch.cost.meta import MetaBuild

    with MetaBuild():
        model = timm.create_model(name, pretrained=False, device="meta")
    cfg = getattr(model, "pretrained_cfg", None) or {}
    in_chans, default = 3, 224
    if cfg.get("input_size"):
        in_chans, default = cfg["input_size"][0], cfg["input_size"][-1]
    patch = getattr(getattr(model, "patch_embed", None), "patch_size", None)
    if isinstance(patch, (tuple, list)):
        patch = patch[0]
    info = getattr(model, "feature_info", None) or []
    reductions = [f.get("reduction", 1) for f in info if isinstance(f, dict)]
    params = inspect.signature(type(model).__init__).parameters
    return TimmModel(
        name=name,
        architecture=type(model).__name__,
        default_img_size=int(default),
        in_chans=int(in_chans),
        takes_img_size="img_size" in params,
        patch_size=int(patch) if patch else None,
        reduction=int(max(reductions)) if reductions else int(patch or 1),
    )


def source(name: str) -> TimmModel:
    """The source of ``timm:<name>`` (the registry's entry point for this kind)."""
    return timm_model(name)
