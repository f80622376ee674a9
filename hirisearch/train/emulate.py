"""Run a training step on the ``meta`` device as it would run on a CPU or a CUDA device.

Two things a meta run does not do by itself:

- **autocast.** ``torch.autocast`` does nothing to meta tensors in torch 2.14 (``device_type="cpu"``
  or ``"cuda"`` leaves them in fp32, and ``"meta"`` is refused), so :class:`DeviceEmulation`
  does what autocast does, one level up: a ``TorchFunctionMode`` (``torch.overrides``, public)
  that casts the inputs of the operators autocast lists for the device
  (:mod:`hirisearch.train.policy`), caching the low-precision copy of each parameter for the
  forward pass as autocast's cast cache does (a parameter used twice is cast once, and the copy
  lives until the forward ends or its last saver is freed). The casts are recorded by autograd as
  autocast's are, so gradients flow back in the dtypes they do on the device, and the parameters'
  gradients arrive in fp32;
- **the attention kernel.** On meta ``F.scaled_dot_product_attention`` always takes the math path;
  the mode calls the fused kernel the device would choose (torch's meta kernels for it exist)
  with the same arguments, so what it keeps for backward is what the device keeps.

Autocast works at the operator dispatcher, so it also casts listed operators called inside an
unlisted one; a torch function mode sees only the outermost call. None of torch's functions the
families call hides a listed operator inside an unlisted one (``einsum`` would, on the CPU).

The same mode runs on real CPU tensors too (with autocast off): the tests compare its operators,
their dtypes and its peak memory with real CPU autocast, operator by operator.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode, resolve_name

from hirisearch.train.policy import FP32, LOWER, PROMOTE, DeviceKind, Dtype, attention_kernel

__all__ = ["DeviceEmulation", "TORCH_DTYPES"]

TORCH_DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
_SDPA = "torch.nn.functional.scaled_dot_product_attention"
_SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")


def _eligible(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype != torch.float64


class DeviceEmulation(TorchFunctionMode):
    """Autocast and the attention kernel of ``device`` for a step traced elsewhere (meta).

    Args:
        device: the kind of device emulated, ``cpu`` or ``cuda``.
        dtype: ``fp32`` (no autocast) or the autocast dtype, ``bf16`` or ``fp16``.
    """

    def __init__(self, device: DeviceKind, dtype: Dtype) -> None:
        super().__init__()
        self.device = device
        self.dtype = dtype
        self.low = TORCH_DTYPES[dtype] if dtype != "fp32" else None
        self.cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._names: dict[Any, str] = {}
        self._depth = 0
        #: Off, the mode lets every call through (the backward pass, outside a recomputation).
        self.on = True

    def __enter__(self) -> DeviceEmulation:
        self._depth += 1
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if not self._depth:
            self.cache.clear()  # autocast drops its cast cache when its region ends
        super().__exit__(*exc)

    def _name(self, func: Any) -> str:
        name = self._names.get(func)
        if name is None:
            name = self._names[func] = resolve_name(func) or ""
        return name

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        if not self.on:
            return func(*args, **kwargs)
        name = self._name(func)
        if self.low is not None:
            if name in LOWER[self.device]:
                args, kwargs = self._cast(args, kwargs, self.low)
            elif name in FP32[self.device]:
                args, kwargs = self._cast(args, kwargs, torch.float32)
            elif name in PROMOTE[self.device]:
                args, kwargs = self._promote(args, kwargs)
        if name == _SDPA:
            return self._attention(*args, **kwargs)
        return func(*args, **kwargs)

    # ----------------------------------------------------------------------- autocast casts
    def _to(self, x: Any, dtype: torch.dtype) -> Any:
        if not _eligible(x) or x.dtype == dtype:
            return x
        cacheable = dtype == self.low and x.dtype == torch.float32 and x.is_leaf
        if cacheable and x.requires_grad:
            hit = self.cache.get(id(x))
            if hit is not None and hit[0] is x:
                return hit[1]
            cast = x.to(dtype)
            self.cache[id(x)] = (x, cast)
            return cast
        return x.to(dtype)

    def _map(self, obj: Any, dtype: torch.dtype) -> Any:
        if isinstance(obj, (list, tuple)):
            return type(obj)(self._map(o, dtype) for o in obj)
        return self._to(obj, dtype)

    def _cast(self, args: Any, kwargs: dict, dtype: torch.dtype) -> tuple[Any, dict]:
        return self._map(args, dtype), {k: self._map(v, dtype) for k, v in kwargs.items()}

    def _promote(self, args: Any, kwargs: dict) -> tuple[Any, dict]:
        found: list[torch.dtype] = []

        def collect(obj: Any) -> None:
            if isinstance(obj, (list, tuple)):
                for o in obj:
                    collect(o)
            elif _eligible(obj):
                found.append(obj.dtype)

        collect(args)
        collect(list(kwargs.values()))
        if not found:
            return args, kwargs
        widest = torch.float32 if torch.float32 in found else found[0]
        return self._cast(args, kwargs, widest)

    # ----------------------------------------------------------------------- attention kernel
    def _attention(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        bound = dict(zip(_SDPA_ARGS, args, strict=False))
        bound.update(kwargs)
        q, k, v = bound["query"], bound["key"], bound["value"]
        mask = bound.get("attn_mask")
        dropout = float(bound.get("dropout_p") or 0.0)
        causal, scale = bool(bound.get("is_causal", False)), bound.get("scale")
        kind, kernel = attention_kernel(
            self.device,
            self.dtype if q.dtype != torch.float32 else "fp32",
            ndim=q.dim(),
            same_head_dims=q.shape[-1] == k.shape[-1] == v.shape[-1],
            head_dim=q.shape[-1],
            unit_stride=all(t.stride(-1) == 1 for t in (q, k, v)),
            dropout=dropout > 0,
            mask="none" if mask is None else ("learned" if mask.requires_grad else "fixed"),
            mask_shape_ok=_mask_shape_ok(q, k, mask),
        )
        if kind == "math":
            with sdpa_kernel([SDPBackend.MATH]):
                return F.scaled_dot_product_attention(
                    q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal, scale=scale
                )
        aten = torch.ops.aten
        if kernel == "flash_cpu":
            return aten._scaled_dot_product_flash_attention_for_cpu(
                q, k, v, dropout, causal, attn_mask=mask, scale=scale
            )[0]
        if kernel == "flash":
            return aten._scaled_dot_product_flash_attention(
                q, k, v, dropout, causal, return_debug_mask=False, scale=scale
            )[0]
        if mask is not None:
            mask = mask.expand(q.shape[0], q.shape[1], q.shape[2], k.shape[2])
        return aten._scaled_dot_product_efficient_attention(
            q, k, v, mask, True, dropout, causal, scale=scale
        )[0]


def _mask_shape_ok(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None) -> bool:
    """torch's ``check_attn_mask_shape``: a 2-D mask, or a 4-D one whose leading dimensions are 1
    or the batch and heads, its last two the queries and keys (or 1)."""
    if mask is None:
        return True
    if (
        q.dim() != 4
        or mask.shape[-2] not in (1, q.shape[2])
        or mask.shape[-1] not in (1, k.shape[2])
    ):
        return False
    if mask.dim() == 2:
        return True
    return mask.dim() == 4 and mask.shape[0] in (1, q.shape[0]) and mask.shape[1] in (1, q.shape[1])
