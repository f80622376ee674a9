"""A model object: any ``nn.Module`` a user holds, with the inputs it is called with.

``hirisearch.profile(model, inputs=x)`` (or ``input_shape=``) makes a :class:`ModuleSource`. It has
no analytic model: the traced counter counts it on the ``meta`` device, on a *meta copy* of the
model (:func:`copy_onto`: ``copy.deepcopy`` with every parameter, buffer and tensor attribute
replaced by a meta tensor of the same shape through deepcopy's memo, so no weight is copied). A
model that cannot be copied or run on ``meta`` is counted eagerly where it lives on the CPU (the
result says so), and the counter restores what a forward pass may change (modes, ``requires_grad``
flags, buffers such as BatchNorm's running statistics, the random number generators). Whatever
the call, the user's model keeps its mode, device, parameters and flags: ``build`` (used by the
latency measurement and the cross-check counters) always returns a copy.

Imports torch only when a model is copied or run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hirisearch.errors import FactoryError, HirisearchError
from hirisearch.models.base import Convention
from hirisearch.targets.core import SizedTarget, Target, as_hw
from hirisearch.targets.inputs import InputSpec, Instance, as_input_spec, from_example, materialise

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True, eq=False)
class ModuleSource:
    """The user's model object and its inputs (example values or shapes)."""

    model: Any  # the user's nn.Module, never changed
    spec: InputSpec
    ref: str

    @property
    def name(self) -> str:
        return type(self.model).__name__

    @property
    def family(self) -> str:
        return f"module:{type(self.model).__qualname__}"

    @property
    def conventions(self) -> tuple[Convention, ...]:
        return ()

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        """The inputs as given; a size sets the first input's last two sizes (shapes only)."""
        spec = self.spec
        if img_size is not None and as_hw(img_size) != spec.img_size:
            spec = spec.resized(as_hw(img_size), what=self.ref)
        return SizedTarget(
            target, img_size=spec.img_size, input_shape=spec.sample_shape, inputs=spec
        )

    def out_grid(self, sized: SizedTarget) -> tuple[int, int] | None:
        return None  # unknown without running the model

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> nn.Module:
        """A copy of the model on ``device`` (the CPU by default; ``meta``: no weight copied)."""
        try:
            return copy_onto(self.model, device or "cpu", dtype=dtype)
        except Exception as e:  # noqa: BLE001 - the user's object: any failure is one line
            raise FactoryError(f"{self.ref}: the model cannot be copied ({_line(e)})") from None

    def instance(self, sized: SizedTarget, *, device: Any = None, batch: int = 1) -> Instance:
        """What the counter runs: on ``meta`` a meta copy; elsewhere the model itself when it
        lives on ``device`` (its state is restored by the counter), else a copy there."""
        import torch

        dev = torch.device(device or "cpu")
        if dev.type == "meta":
            try:
                model = copy_onto(self.model, dev)
            except Exception as e:  # noqa: BLE001 - left to the eager count, which says why
                raise NotImplementedError(
                    f"the model cannot be copied onto the meta device ({_line(e)})"
                ) from None
        elif all(t.device == dev for t in _tensors(self.model)):
            model = self.model
        else:
            model = self.build(sized, device=dev)
        args, kwargs = materialise(sized.input_spec, dev, batch=batch)
        return Instance(model, args, kwargs)


def _line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__


def _tensors(model: nn.Module) -> list[Any]:
    """Every tensor the model holds: parameters, buffers and plain tensor attributes."""
    import torch

    out: dict[int, Any] = {id(t): t for t in (*model.parameters(), *model.buffers())}
    for m in model.modules():
        out.update({id(v): v for v in vars(m).values() if isinstance(v, torch.Tensor)})
    return list(out.values())


def copy_onto(model: nn.Module, device: Any, *, dtype: Any = None) -> nn.Module:
    """``copy.deepcopy(model)`` with every tensor it holds made anew on ``device`` (``meta``:
    empty, so nothing is copied; a floating tensor cast to ``dtype`` when given). Shared tensors
    stay shared (tied weights), and parameters keep their ``requires_grad``."""
    import copy

    import torch
    from torch import nn

    dev = torch.device(device)

    def made(t: torch.Tensor) -> torch.Tensor:
        cast = dtype if dtype is not None and t.is_floating_point() else None
        if dev.type == "meta":
            out = torch.empty_like(t, device=dev, dtype=cast)
        else:
            out = t.detach().to(dev, dtype=cast, copy=True)
        return nn.Parameter(out, t.requires_grad) if isinstance(t, nn.Parameter) else out

    memo: dict[int, Any] = {id(t): made(t) for t in _tensors(model)}
    return copy.deepcopy(model, memo)


def source(model: Any, *, inputs: Any = None, input_shape: Any = None) -> ModuleSource:
    """The source of a model object (the registry's entry point for this kind): ``inputs`` (a
    tensor, a tuple of positional arguments, a dict of keyword arguments) or ``input_shape``
    (one sample's shape, or one per input), exactly one of them.

    Raises:
        HirisearchError: not an ``nn.Module``, or not exactly one of ``inputs``/``input_shape``.
    """
    from torch import nn

    if not isinstance(model, nn.Module):
        raise HirisearchError(
            f"a model object is a torch.nn.Module, but got {type(model).__name__}"
        )
    if (inputs is None) == (input_shape is None):
        raise HirisearchError(
            f"a model object ({type(model).__name__}) is counted on its inputs: give exactly one of "
            "inputs= (a tensor, a tuple of them or a dict of keyword arguments) and input_shape= "
            "(one sample's shape, e.g. (3, 224, 224))"
        )
    spec = from_example(inputs) if inputs is not None else as_input_spec(input_shape)
    if spec is None:
        raise HirisearchError(f"input_shape is one sample's shape, but got {input_shape!r}")
    return ModuleSource(model, spec, f"<{type(model).__qualname__} object at {id(model):#x}>")
