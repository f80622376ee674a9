"""Models without a spec: ``timm:<model_name>`` refers to any model timm can build.

The model is built with ``pretrained=False`` (no weights are ever downloaded) at the requested
resolution (``img_size`` is passed where the model's constructor takes it: ViT, Swin, ...; CNNs such
as ResNet and ConvNeXt take any size as they are) and counted by the traced counter only. On the
``meta`` device ``F.scaled_dot_product_attention`` decomposes into matmuls, so the attention of timm's
fused-attention models is counted (eager fvcore / ptflops / CPU ``FlopCounterMode`` miss it).

Resolution rule, per axis: a model with a patch embedding takes multiples of its patch size; any
model takes sizes no smaller than its total stride. A non-square ``(height, width)`` is passed as
``img_size=(height, width)`` to a model whose constructor takes ``img_size`` (ViT, Swin, ...), and
refused in one line when the model cannot be built or run at it; CNNs take any size. Swin-like models pad windows that do not divide a stage grid,
as timm does, and the count includes the padding.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hirisearch.errors import ResolutionError, UnknownModelError
from hirisearch.models.base import Convention
from hirisearch.models.resolution import Hw, axis_reason, check_resolution, size_label
from hirisearch.targets.core import SizedTarget, Target

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

    def check(self, hw: Hw) -> None:
        """Refuse ``hw`` in one line: an axis the rule refuses, or a non-square size the model
        cannot be built or run at (asked on the meta device)."""
        check_resolution(
            lambda s: axis_reason(s, self.reason),
            hw,
            model=f"{PREFIX}:{self.name}",
            step=self.patch_size or self.reduction,
        )
        if hw[0] != hw[1] and self.takes_img_size:
            why = _non_square_failure(self.name, self.in_chans, hw)
            if why is not None:
                raise ResolutionError(
                    f"{PREFIX}:{self.name} cannot take the non-square input size "
                    f"{size_label(hw)}: {why}",
                    field="img_size",
                )

    @property
    def family(self) -> str:
        return f"{PREFIX}:{self.architecture}"

    @property
    def conventions(self) -> tuple[Convention, ...]:
        return ()

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        hw = (self.default_img_size,) * 2 if img_size is None else img_size
        self.check(hw)  # type: ignore[arg-type]
        return SizedTarget(target, img_size=hw, input_shape=(self.in_chans, *hw))  # type: ignore[arg-type]

    def out_grid(self, sized: SizedTarget) -> tuple[int, int]:
        """The last feature map's grid (timm rounds partial strides up)."""
        return (-(-sized.img_size[0] // self.reduction), -(-sized.img_size[1] // self.reduction))

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> nn.Module:
        """Build the model at ``sized.img_size`` with random weights."""
        import timm

        h, w = sized.img_size
        size = h if h == w else (h, w)
        kwargs: dict[str, Any] = {"img_size": size} if self.takes_img_size else {}
        model = timm.create_model(self.name, pretrained=False, device=device, **kwargs)
        return model if dtype is None else model.to(dtype)


@lru_cache(maxsize=16)
def _non_square_failure(name: str, in_chans: int, hw: Hw) -> str | None:
    """Why timm's ``name`` built with ``img_size=hw`` fails a forward pass on the meta device
    (``None``: it runs)."""
    import timm
    import torch

    from hirisearch.cost.meta import MetaBuild

    try:
        with MetaBuild():
            model = timm.create_model(name, pretrained=False, device="meta", img_size=hw)
        with torch.no_grad():
            model(torch.empty(1, in_chans, *hw, device="meta"))
    except Exception as e:  # noqa: BLE001 - timm's code: any failure refuses the size
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return None


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
