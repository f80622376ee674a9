"""The inputs of one forward pass, described without torch: what a model is called with.

An :class:`InputSpec` holds the positional and keyword arguments of ``model(*args, **kwargs)``,
each tensor described by a :class:`TensorSpec` (shape and dtype) and any other value kept as it
is (nested tuples, lists and dicts of them included). Two kinds:

- *shapes* (``batched=False``): each tensor's shape is one sample's; a batch of ``B`` prepends
  ``B`` to every tensor (``--input-shape 3,224,224 --input-shape int64:77``, ``input_shape=``);
- *example inputs* (``batched=True``): the tensors a user passed (``inputs=``) or a factory
  returned, shapes as they are, the batch being the first tensor's leading size. Their values are
  kept (:attr:`InputSpec.example`) for an eager run; a meta-device count needs only the shapes.

:func:`materialise` turns a spec into tensors on a device (imports torch); the traced counters,
the latency measurement and a training step all call the model with what it returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hirisearch.errors import HirisearchError

#: dtype names as the CLI and the API accept them -> torch's name.
DTYPES: dict[str, str] = {
    **{n: n for n in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16")},
    **{n: n for n in ("int8", "uint8", "bool", "complex64")},
    "fp32": "float32",
    "float": "float32",
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "fp64": "float64",
    "double": "float64",
    "long": "int64",
    "int": "int32",
}
_FLOATING = frozenset({"float32", "float16", "bfloat16", "float64", "complex64"})


def dtype_name(text: str) -> str:
    """``"int64"``, ``"long"``, ``"torch.int64"`` -> ``"int64"``; anything else is refused."""
    name = DTYPES.get(str(text).removeprefix("torch."))
    if name is None:
        raise HirisearchError(
            f"unknown dtype {text!r}; valid: {', '.join(sorted(set(DTYPES.values())))}"
        )
    return name


@dataclass(frozen=True)
class TensorSpec:
    """One tensor argument: its shape and dtype (torch's name, ``float32``)."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    def text(self, batch: int | None = None) -> str:
        """``float32[1,3,224,224]`` (``batch`` prepended to one sample's shape)."""
        shape = self.shape if batch is None else (batch, *self.shape)
        return f"{self.dtype}[{','.join(str(d) for d in shape)}]"

    @property
    def floating(self) -> bool:
        return self.dtype in _FLOATING


def _walk(value: Any) -> Iterator[TensorSpec]:
    if isinstance(value, TensorSpec):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _walk(v)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _walk(v)


@dataclass(frozen=True)
class InputSpec:
    """``model(*args, **kwargs)``: tensors as :class:`TensorSpec`, other values as they are."""

    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()
    batched: bool = False
    #: The user's own ``(args, kwargs)`` (example inputs only): used as they are by eager runs.
    example: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        tensors = list(self.tensors())
        if not tensors:
            raise HirisearchError("the inputs hold no tensor: give at least one")
        for t in tensors:
            if any(not isinstance(d, int) or d <= 0 for d in t.shape):
                raise HirisearchError(
                    f"every size of an input must be a positive integer, but got {t.text()}"
                )
        if self.batched and not tensors[0].shape:
            raise HirisearchError("the first input must have a batch dimension, but it is a scalar")

    @classmethod
    def image(cls, shape: Sequence[int]) -> InputSpec:
        """One float32 input of one sample's ``shape`` (``(3, 224, 224)``)."""
        return cls((TensorSpec(tuple(shape)),))

    def tensors(self) -> Iterator[TensorSpec]:
        """Every tensor, positional arguments first, in order."""
        yield from _walk(self.args)
        yield from _walk(dict(self.kwargs))

    @property
    def first(self) -> TensorSpec:
        return next(self.tensors())

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The first input's shape without its batch: what documents give as ``input_shape``."""
        return self.first.shape[1:] if self.batched else self.first.shape

    @property
    def own_batch(self) -> int | None:
        """The batch example inputs carry (their first tensor's leading size); ``None`` for
        shapes, which take any batch."""
        return self.first.shape[0] if self.batched else None

    @property
    def img_size(self) -> tuple[int, int]:
        """``(height, width)``: the first input's last two sizes (one sample's), its only size
        when that is one-dimensional (a token sequence's length), ``(1, 1)`` for a scalar."""
        s = self.sample_shape
        return (s[-2], s[-1]) if len(s) >= 2 else (s[0], s[0]) if s else (1, 1)

    @property
    def is_image(self) -> bool:
        """Whether a resolution applies: the first input is ``C,H,W`` (or more) and given as a
        shape, not as example values."""
        first = self.first
        top = any(a is first for a in self.args) or any(v is first for _, v in self.kwargs)
        return top and not self.batched and len(self.sample_shape) >= 3

    def resized(self, hw: tuple[int, int], *, what: str) -> InputSpec:
        """This spec with the first input's last two sizes set to ``hw``; ``what`` names the
        model in the error for inputs a resolution does not apply to."""
        if not self.is_image:
            given = ", ".join(self.describe())
            why = "example inputs fix their own sizes" if self.batched else "it is not C,H,W"
            raise HirisearchError(
                f"{what}: a resolution applies to an image input (C,H,W), but the inputs are "
                f"{given} ({why})"
            )
        first = self.first
        new = TensorSpec((*first.shape[:-2], *hw), first.dtype)
        for i, a in enumerate(self.args):
            if a is first:
                return InputSpec((*self.args[:i], new, *self.args[i + 1 :]), self.kwargs)
        kwargs = tuple((k, new if v is first else v) for k, v in self.kwargs)
        return InputSpec(self.args, kwargs)

    def describe(self, batch: int = 1) -> tuple[str, ...]:
        """Each argument as ``dtype[shape]`` (batch included), keyword ones as ``name=...``."""
        b = None if self.batched else batch
        out = [_describe(v, b) for v in self.args]
        out += [f"{k}={_describe(v, b)}" for k, v in self.kwargs]
        return tuple(out)

    def elements(self, batch: int = 1) -> int:
        """Elements of every tensor input, for a batch of ``batch`` (memory checks)."""
        b = 1 if self.batched else batch
        return sum(b * math.prod(t.shape) for t in self.tensors())


def _describe(value: Any, batch: int | None) -> str:
    if isinstance(value, TensorSpec):
        return value.text(batch)
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_describe(v, batch) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_describe(v, batch)}" for k, v in value.items()) + "}"
    return repr(value)[:40]


class Instance(NamedTuple):
    """A model ready to run and the arguments of one forward pass: ``model(*args, **kwargs)``."""

    model: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


# --------------------------------------------------------------------------- parsing
def parse_input_shape(text: str) -> TensorSpec:
    """``"3,224,224"`` -> float32 ``(3, 224, 224)``; ``"int64:77"`` -> an int64 ``(77,)``: one
    sample's shape, of any rank, after an optional ``dtype:``.

    Raises:
        HirisearchError: not a comma list of positive integers, or an unknown dtype.
    """
    dtype, sep, dims = text.strip().rpartition(":")
    parts = [p.strip() for p in dims.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise HirisearchError(
            "--input-shape: expected [dtype:]sizes, positive integers separated by commas "
            f"(e.g. 3,224,224 or int64:77), but got {text!r}"
        )
    return TensorSpec(tuple(int(p) for p in parts), dtype_name(dtype) if sep else "float32")


def parse_input_shapes(texts: Sequence[str] | str | None) -> InputSpec | None:
    """Every ``--input-shape`` value (one per positional input), or ``None`` without any."""
    if isinstance(texts, str):
        texts = [texts]
    texts = [t for t in texts or () if t.strip()]
    if not texts:
        return None
    return InputSpec(tuple(parse_input_shape(t) for t in texts))


def as_input_spec(shape: Any) -> InputSpec | None:
    """What ``input_shape=`` accepts: one sample's shape (``(3, 224, 224)``, ``(77,)``), a
    sequence of them (one per positional input), ``--input-shape`` texts, or an
    :class:`InputSpec`."""
    if shape is None or isinstance(shape, InputSpec):
        return shape
    if isinstance(shape, TensorSpec):
        return InputSpec((shape,))
    if isinstance(shape, str):
        return parse_input_shapes([shape])
    items = list(shape) if isinstance(shape, Sequence) else None
    if items and all(isinstance(d, int) and not isinstance(d, bool) for d in items):
        return InputSpec((TensorSpec(tuple(items)),))
    if items and all(isinstance(s, (str, TensorSpec, Sequence)) for s in items):
        return InputSpec(tuple(_one_shape(s) for s in items))
    raise HirisearchError(
        "input_shape is one sample's shape (e.g. (3, 224, 224)) or a list of them, one per "
        f"input, but got {shape!r}"
    )


def _one_shape(s: Any) -> TensorSpec:
    if isinstance(s, TensorSpec):
        return s
    if isinstance(s, str):
        return parse_input_shape(s)
    if all(isinstance(d, int) and not isinstance(d, bool) for d in s):
        return TensorSpec(tuple(s))
    raise HirisearchError(f"an input shape is a sequence of positive integers, but got {s!r}")


# ------------------------------------------------------------------- torch side (lazy)
def from_example(inputs: Any) -> InputSpec:
    """The spec of example inputs: a tensor, a tuple (or list) of positional arguments, or a
    dict of keyword arguments; tensors may nest in tuples, lists and dicts. The values are kept.

    Raises:
        HirisearchError: anything else, in one line naming what is accepted.
    """
    import torch

    if isinstance(inputs, torch.Tensor):
        args: tuple[Any, ...] = (inputs,)
        kwargs: dict[str, Any] = {}
    elif isinstance(inputs, (tuple, list)):
        args, kwargs = tuple(inputs), {}
    elif isinstance(inputs, Mapping) and all(isinstance(k, str) for k in inputs):
        args, kwargs = (), dict(inputs)
    else:
        raise HirisearchError(
            "inputs is a tensor, a tuple of positional arguments or a dict of keyword "
            f"arguments (tensors of any dtype), but got {type(inputs).__name__}"
        )
    return InputSpec(
        tuple(_spec_of(a) for a in args),
        tuple((k, _spec_of(v)) for k, v in kwargs.items()),
        batched=True,
        example=(args, kwargs),
    )


def _spec_of(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return TensorSpec(tuple(value.shape), dtype_name(str(value.dtype)))
    if isinstance(value, (tuple, list)):
        return type(value)(_spec_of(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _spec_of(v) for k, v in value.items()}
    return value


def materialise(
    spec: InputSpec, device: Any = "cpu", *, batch: int = 1
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` to call a model with, on ``device``.

    On ``meta``: empty tensors of the spec's shapes. Elsewhere: the example's own values when
    the spec has them (moved to ``device``), else random normal floats and zero integers (a valid
    index for any embedding). ``batch`` is prepended to shapes (ignored for example inputs).
    """
    import torch

    dev = torch.device(device)
    if spec.example is not None and dev.type != "meta":
        args, kwargs = spec.example
        return _moved(tuple(args), dev), _moved(dict(kwargs), dev)
    lead = () if spec.batched else (batch,)

    def make(value: Any) -> Any:
        if isinstance(value, TensorSpec):
            shape, dtype = (*lead, *value.shape), getattr(torch, value.dtype)
            if dev.type == "meta":
                return torch.empty(shape, dtype=dtype, device=dev)
            if value.floating:
                return torch.randn(shape, dtype=dtype, device=dev)
            return torch.zeros(shape, dtype=dtype, device=dev)
        if isinstance(value, (tuple, list)):
            return type(value)(make(v) for v in value)
        if isinstance(value, Mapping):
            return {k: make(v) for k, v in value.items()}
        return value

    return tuple(make(a) for a in spec.args), {k: make(v) for k, v in spec.kwargs}


def _moved(value: Any, device: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_moved(v, device) for v in value)
    if isinstance(value, Mapping):
        return {k: _moved(v, device) for k, v in value.items()}
    return value
