"""``torchvision:<name>``: any model of ``torchvision.models.list_models()``, built without weights.

- Classification models are built at the requested resolution: the models whose constructor fixes
  it (ViT's ``image_size``, MaxViT's ``input_size``) are told it; the others take any size their
  strides allow. The default resolution is the crop size of the model's default weights.
- Semantic segmentation models (FCN, DeepLabV3, LR-ASPP) are counted whole; their default
  resolution is their weights' resize size (520).
- Detection models are represented by their backbone (``model.backbone``: the feature extractor
  and its FPN, which take a tensor; the detector's transform, heads and box post-processing have
  data-dependent shapes that no meta-device count can run). The default resolution is the
  detector's own minimum size (800, or 300/320 for SSD and the 320 models).
- Video models take ``3 x 16 x R x R`` clips unless ``--input-shape`` says otherwise.

No weights are ever downloaded: ``weights=None`` and, for detection and segmentation,
``weights_backbone=None``. torchvision is imported only when such a target is resolved.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hirisearch.errors import UnknownModelError
from hirisearch.models.resolution import Size, as_hw
from hirisearch.targets.code import META_ERRORS, CodeModel, first_line
from hirisearch.targets.inputs import InputSpec

PREFIX = "torchvision"

#: Frames of a video clip when no ``--input-shape`` is given (torchvision's video weights' 16).
VIDEO_FRAMES = 16

#: Tasks whose builders load ImageNet weights into their backbone unless told not to.
_BACKBONED = ("detection", "segmentation")


@dataclass(frozen=True)
class Kind:
    """What one torchvision model is, read from the module that registers it."""

    task: str  # classification, segmentation, detection, video, optical_flow, quantization
    size_keyword: str | None  # "image_size" (int) or "input_size" (pair) when the class fixes it
    architecture: str  # the class name (of the backbone, for detection)
    default_size: int


@lru_cache(maxsize=1)
def _tasks() -> dict[str, str]:
    from torchvision import models

    tasks = {name: "classification" for name in models.list_models(module=models)}
    for task in ("segmentation", "detection", "video", "optical_flow", "quantization"):
        for name in models.list_models(module=getattr(models, task)):
            tasks[name] = task
    for name in models.list_models():
        tasks.setdefault(name, "other")
    return tasks


def names() -> tuple[str, ...]:
    """Every name ``torchvision:<name>`` accepts."""
    return tuple(sorted(_tasks()))


def _make(name: str, task: str, kwargs: dict[str, Any]) -> Any:
    import torch
    from torchvision import models

    config = {**_no_weights(task), **kwargs}
    if torch.get_default_device().type != "meta":
        model = models.get_model(name, **config)
    else:
        try:
            model = models.get_model(name, **config)
        except META_ERRORS:
            # Constructors that compute their widths from tensor values (RegNet) cannot run with
            # meta as the default device: run them on the CPU, every parameter and buffer moved
            # to meta as it is registered (so no weights are allocated or initialised).
            with torch.device("cpu"), _registered_on_meta():
                model = models.get_model(name, **config)
    return model.backbone if task == "detection" else model


@contextmanager
def _registered_on_meta() -> Iterator[None]:
    import torch
    from torch.nn.modules.module import (
        register_module_buffer_registration_hook,
        register_module_parameter_registration_hook,
    )

    def param(module: Any, name: str, p: Any) -> Any:
        return None if p is None else torch.nn.Parameter(p.to("meta"), p.requires_grad)

    def buffer(module: Any, name: str, b: Any) -> Any:
        return None if b is None else b.to("meta")

    hooks = (
        register_module_parameter_registration_hook(param),
        register_module_buffer_registration_hook(buffer),
    )
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def _no_weights(task: str) -> dict[str, Any]:
    """Keywords that keep torchvision from loading any weights (backbones' included)."""
    return {"weights": None, **({"weights_backbone": None} if task in _BACKBONED else {})}


def _default_size(name: str, task: str, model: Any) -> int:
    if task == "detection":
        sizes = getattr(getattr(model, "transform", None), "min_size", None) or (800,)
        return int(sizes[0])
    from torchvision import models

    try:
        weights = models.get_model_weights(name).DEFAULT
    except (KeyError, ValueError, AttributeError):
        return 224
    keywords = getattr(weights.transforms, "keywords", {})
    size = keywords.get("crop_size") or keywords.get("resize_size") or 224
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def _kind(name: str, kwargs: dict[str, Any]) -> Kind:
    """Build the model once on the ``meta`` device to read its class and default size."""
    from torchvision import models

    from hirisearch.cost.meta import MetaBuild

    task = _tasks()[name]
    try:
        with MetaBuild():
            model = models.get_model(name, **{**_no_weights(task), **kwargs})
    except META_ERRORS:  # builds only eagerly: counted with the announced fallback
        model = None
    except Exception as e:  # noqa: BLE001 - wrong --kwargs and the like: one line
        from hirisearch.errors import FactoryError

        raise FactoryError(f"{PREFIX}:{name}: building the model failed: {first_line(e)}") from None
    part = getattr(model, "backbone", model) if task == "detection" else model
    params = inspect.signature(type(model).__init__).parameters if model is not None else {}
    keyword = next((k for k in ("image_size", "input_size") if k in params), None)
    return Kind(
        task=task,
        size_keyword=keyword,
        architecture=type(part).__name__ if part is not None else "?",
        default_size=_default_size(name, task, model),
    )


def closest_names(name: str, count: int = 3) -> list[str]:
    return difflib.get_close_matches(name, names(), n=count, cutoff=0.4)


def source(
    name: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    input_shape: InputSpec | None = None,
) -> CodeModel:
    """The source of ``torchvision:<name>`` (the registry's entry point for this kind); unknown
    names list the closest valid ones."""
    if name not in _tasks():
        near = closest_names(name)
        hint = f"; closest: {', '.join(near)}" if near else ""
        raise UnknownModelError(f"unknown torchvision model {name!r}{hint}")
    opts = dict(kwargs or {})
    kind = _kind(name, opts)
    inputs = input_shape
    if inputs is None and kind.task == "video":
        inputs = InputSpec.image((3, VIDEO_FRAMES, kind.default_size, kind.default_size))

    def make(size: Size, kw: dict[str, Any]) -> Any:
        if kind.size_keyword and kind.size_keyword not in kw:
            kw[kind.size_keyword] = size if kind.size_keyword == "image_size" else as_hw(size)
        return _make(name, kind.task, kw)

    return CodeModel(
        ref=f"{PREFIX}:{name}",
        name=name + (" (backbone)" if kind.task == "detection" else ""),
        family=f"{PREFIX}:{kind.architecture}",
        make=make,
        kwargs=opts,
        inputs=inputs,
        default_size=kind.default_size,
        square_only=kind.size_keyword == "image_size",  # torchvision's ViT checks H == W == it
    )
