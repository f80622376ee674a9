"""Traced counters, normalised to the hirisearch convention (MACs, attention included).

The primary traced count is torch's ``FlopCounterMode`` on a model built on the ``meta`` device: no
memory is allocated, any resolution runs in well under a second, and SDPA decomposes into ``bmm``
there so attention is counted. Operators without a meta kernel make the meta run fail; then the count
falls back to an eager run on the CPU with SDPA forced to its math path (the fused CPU kernel counts as
zero otherwise), and the result says so.

fvcore, thop and ptflops are offered as cross-check columns; each is labelled with what it misses.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from hirisearch import interrupt
from hirisearch.cost.convention import (
    BN_PER_ELEMENT,
    FVCORE_GRID_SAMPLE,
    FVCORE_UPSAMPLE_BILINEAR,
    FVCORE_UPSAMPLE_NEAREST,
    GN_PER_ELEMENT,
    LN_PER_ELEMENT,
    TORCH_FLOPS_PER_MAC,
    macs_from_torch_flops,
)
from hirisearch.cost.replay import MetaKernelCache, Replayer, expand
from hirisearch.cost.types import Cost
from hirisearch.errors import CountingError
from hirisearch.layers.init import MetaBuild
from hirisearch.runtime import gc_paused

aten = torch.ops.aten

# ----------------------------------------------------------------- operator categories
CONV_OPS = {aten.convolution, aten._convolution, aten.convolution_backward}
LINEAR_OPS = {aten.mm, aten.addmm}
ATTN_OPS = {
    aten.bmm,
    aten.baddbmm,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_cudnn_attention,
    aten._scaled_dot_product_flash_attention_for_cpu,
}
NORM_OPS = {
    aten._native_batch_norm_legit_no_training,
    aten._native_batch_norm_legit,
    aten.native_batch_norm,
    aten.native_layer_norm,
    aten.native_group_norm,
}

#: Operators that do no arithmetic worth counting (layout, indexing, creation).
_SHAPE_OPS = {
    "view",
    "_unsafe_view",
    "reshape",
    "permute",
    "transpose",
    "t",
    "expand",
    "clone",
    "contiguous",
    "unbind",
    "split",
    "split_with_sizes",
    "chunk",
    "cat",
    "stack",
    "slice",
    "select",
    "squeeze",
    "unsqueeze",
    "flatten",
    "unflatten",
    "empty",
    "empty_like",
    "empty_strided",
    "zeros",
    "zeros_like",
    "ones",
    "ones_like",
    "full",
    "arange",
    "_to_copy",
    "copy_",
    "detach",
    "alias",
    "as_strided",
    "lift_fresh",
    "new_empty",
    "new_zeros",
    "index",
    "_unsafe_index",
    "index_select",
    "gather",
    "scalar_tensor",
    "fill_",
    "zero_",
    "lift_fresh_copy",
    "expand_as",
    "view_as",
    "_reshape_alias",
    "roll",
    "pad",
    "constant_pad_nd",
    "masked_fill",
    "where",
    "_local_scalar_dense",
    "item",
    "sym_size",
    "clamp",
    "floor",
    "ceil",
    "sub",
    "rsub",
    "new_ones",
    "narrow",
    "linspace",
    "meshgrid",
    "repeat",
    "_safe_softmax",
    "bernoulli_",
    "eq",
    "ne",
    "lt",
    "gt",
    "ge",
    "le",
    "logical_and",
    "logical_not",
}


# Norm counts follow fvcore's handles exactly: per element, BN at inference 2 (1 without affine
# parameters), BN with batch statistics (training, instance norm) and LN/GN 5 (4 without affine).
# They are expressed in torch's 2-per-unit scale so that one normalisation handles every op.
def _bn_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return _norm(input_shape, BN_PER_ELEMENT if weight is not None else BN_PER_ELEMENT - 1)


def _bn_stats_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    """A batch norm that may use batch statistics: ``training`` is the first bool argument."""
    training = next((a for a in args if isinstance(a, bool)), kwargs.get("training", False))
    if not training:
        return _bn_flops(input_shape, weight)
    return _norm(input_shape, LN_PER_ELEMENT if weight is not None else LN_PER_ELEMENT - 1)


def _ln_flops(input_shape, shape=None, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return _norm(input_shape, LN_PER_ELEMENT if weight is not None else LN_PER_ELEMENT - 1)


def _gn_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return _norm(input_shape, GN_PER_ELEMENT if weight is not None else GN_PER_ELEMENT - 1)


def _norm(input_shape: Any, per_element: int) -> int:
    return math.prod(input_shape) * per_element * TORCH_FLOPS_PER_MAC


_NORM_MAPPING: dict[Any, Callable[..., int]] = {
    aten._native_batch_norm_legit_no_training: _bn_flops,
    aten._native_batch_norm_legit: _bn_stats_flops,
    aten.native_batch_norm: _bn_stats_flops,
    aten.native_layer_norm: _ln_flops,
    aten.native_group_norm: _gn_flops,
}


# Resampling as fvcore counts it (its ``upsample_*``, ``adaptive_avg_pool2d`` and ``grid_sampler``
# handles), per element of the output (or input, for pooling). Not in our convention: counted into
# the separate ``resample`` figure, which ``--convention fvcore`` adds to the total.
def _per_output(scale: int) -> Callable[..., int]:
    def flops(*args, out_shape=None, **kwargs) -> int:  # noqa: ANN001, ANN002, ANN003
        return math.prod(out_shape) * scale * TORCH_FLOPS_PER_MAC

    return flops


def _per_input(input_shape, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return math.prod(input_shape) * TORCH_FLOPS_PER_MAC


_RESAMPLE_MAPPING: dict[Any, Callable[..., int]] = {
    aten.upsample_nearest2d: _per_output(FVCORE_UPSAMPLE_NEAREST),
    aten.upsample_bilinear2d: _per_output(FVCORE_UPSAMPLE_BILINEAR),
    aten.grid_sampler_2d: _per_output(FVCORE_GRID_SAMPLE),
    aten.grid_sampler_3d: _per_output(FVCORE_GRID_SAMPLE),
    aten._adaptive_avg_pool2d: _per_input,
}
RESAMPLE_OPS = set(_RESAMPLE_MAPPING)
# ``FlopCounterMode`` decomposes an overload that is not registered itself (``F.interpolate`` calls
# ``upsample_*2d.vec``, which would decompose into arithmetic): register every overload too.
_RESAMPLE_MAPPING.update(
    {
        getattr(packet, o): fn
        for packet, fn in list(_RESAMPLE_MAPPING.items())
        for o in packet.overloads()
    }
)


class _AdaptivePoolAsOp(TorchFunctionMode):
    """``F.adaptive_avg_pool2d`` dispatches as ``aten._adaptive_avg_pool2d`` (to a 1x1 output
    torch otherwise computes a ``mean``, which no counter can tell from any other mean): the
    same result, through the one operator fvcore counts as pooling."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        if func is torch.nn.functional.adaptive_avg_pool2d:
            bound = {**dict(zip(("input", "output_size"), args, strict=False)), **(kwargs or {})}
            x, size = bound.get("input"), bound.get("output_size")
            pair = (size, size) if isinstance(size, int) else tuple(size or ())
            if isinstance(x, torch.Tensor) and x.dim() in (3, 4) and len(pair) == 2:
                if all(isinstance(v, int) for v in pair):
                    return aten._adaptive_avg_pool2d(x, list(pair))
        return func(*args, **(kwargs or {}))


def _acts_out(*args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    """Output elements of an op (used to count activations), in torch's 2-per-unit scale."""
    if (
        isinstance(out_shape, (tuple, list))
        and out_shape
        and isinstance(out_shape[0], (tuple, list, torch.Size))
    ):
        out_shape = out_shape[0]
    return math.prod(out_shape) * TORCH_FLOPS_PER_MAC


def _category(op: Any) -> str:
    packet = getattr(op, "overloadpacket", op)
    if packet in CONV_OPS:
        return "conv"
    if packet in LINEAR_OPS:
        return "linear"
    if packet in ATTN_OPS:
        return "attn"
    if packet in NORM_OPS:
        return "norm"
    if packet in RESAMPLE_OPS:
        return "resample"
    return "other"


class _OpRecorder(TorchDispatchMode):
    """Records the names of every aten operator that runs (to list the uncounted ones); the
    innermost mode, so it can also serve repeated meta kernels from a cache."""

    def __init__(self, cache: MetaKernelCache | None = None) -> None:
        super().__init__()
        self.ops: dict[str, int] = defaultdict(int)
        self.cache = cache

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.ops[func.overloadpacket.__name__] += 1
        if self.cache is not None:
            return self.cache(func, args, kwargs or {})
        return func(*args, **(kwargs or {}))


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class TracedCount:
    """A traced count of one forward pass.

    ``per_path`` maps module paths (as in ``named_modules()``, root = ``""``) to costs whose
    ``conv/linear/attn/other/norm`` fields are filled (``params`` from the built module).
    """

    mode: str  # "meta" or "eager-cpu"
    total: Cost
    per_path: dict[str, Cost]
    uncounted_ops: tuple[str, ...]
    seconds: float
    note: str = ""
    input_shape: tuple[int, ...] = field(default=())
    #: Resampling work per module path as fvcore counts it (upsampling, adaptive average pooling,
    #: grid sampling); not in our convention, added by ``--convention fvcore``.
    resample: dict[str, int] = field(default_factory=dict)


def _op_flops_per_path(counts: dict[str, dict[Any, int]], root: str) -> dict[str, dict[Any, int]]:
    """FlopCounterMode keys modules as ``RootClass.child.grandchild``; map them to module paths."""
    out: dict[str, dict[Any, int]] = {}
    for key, ops in counts.items():
        if key == "Global":
            path = ""
        elif key == root:
            path = ""
        elif key.startswith(root + "."):
            path = key[len(root) + 1 :]
        else:
            continue
        if path == "" and "" in out and key == "Global":
            continue
        out[path] = dict(ops)
    return out


def _categorise(model: nn.Module, op_flops: dict[str, dict[Any, int]]) -> dict[str, dict[str, int]]:
    """Operator categories per module path.

    A matmul is ``linear`` when it runs inside an ``nn.Linear`` (a linear on a non-contiguous 3D
    input traces as ``bmm``, so the operator alone cannot tell), and ``attn`` otherwise.
    Containers that are never called (``nn.ModuleList``) get the sum of their children.
    """
    linear_paths = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    linear_flops: dict[str, int] = defaultdict(int)
    for lp in linear_paths:
        total = sum(op_flops.get(lp, {}).values())
        if not total:
            continue
        parts = lp.split(".")
        linear_flops[""] += total
        for i in range(1, len(parts) + 1):
            linear_flops[".".join(parts[:i])] += total
    out: dict[str, dict[str, int]] = {}
    for path, ops in op_flops.items():
        cats: dict[str, int] = defaultdict(int)
        for op, flops in ops.items():
            cat = _category(op)
            cats["attn" if cat in ("linear", "attn") else cat] += flops
        cats["linear"] = linear_flops.get(path, 0)
        cats["attn"] -= cats["linear"]
        out[path] = dict(cats)
    # Bottom-up sums for containers whose forward never ran (children grouped by parent once, so
    # this stays linear in the number of modules).
    names = [name for name, _ in model.named_modules()]
    kids: dict[str, list[str]] = defaultdict(list)
    for n in names:
        if n:
            kids[n.rpartition(".")[0]].append(n)
    for name in sorted(names, key=lambda n: -n.count(".") if n else 1):
        if name in out:
            continue
        cats = defaultdict(int)
        for kid in kids.get(name, ()):
            for k, v in out.get(kid, {}).items():
                cats[k] += v
        if cats:
            out[name] = dict(cats)
    return out


def _params_per_path(model: nn.Module) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for name, p in model.named_parameters():
        parts = name.split(".")[:-1]
        totals[""] += p.numel()
        for i in range(1, len(parts) + 1):
            totals[".".join(parts[:i])] += p.numel()
    return totals


def _run(
    model: nn.Module,
    x: torch.Tensor,
    mapping: dict[Any, Callable[..., int]],
    replay: bool,
) -> tuple[dict[str, dict[Any, int]], dict[str, int]]:
    """One counted forward pass: ``({path: {op: torch flops}}, {op name: calls})``."""
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    recorder = _OpRecorder(MetaKernelCache() if replay else None)
    replayer = Replayer(model) if replay else None
    with _no_grad_params(model), torch.inference_mode(), _AdaptivePoolAsOp():
        with replayer.active() if replayer else nullcontext(), recorder, counter:
            model(x)
    per_path = _op_flops_per_path(counter.get_flop_counts(), type(model).__name__)
    if replayer is not None:
        per_path = expand(per_path, replayer.replays, model, replayer.called)
    return per_path, dict(recorder.ops)


@contextmanager
def _no_grad_params(model: nn.Module) -> Iterator[None]:
    """Parameters stop requiring grad for the count (and are restored after).

    FlopCounterMode's module tracker hooks autograd on every module input that requires grad; a
    view of a parameter made under inference mode (CaiT's expanded class token) requires grad but
    has no autograd node, and the tracker fails on it. Nothing here needs gradients.
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _uncounted(ops: dict[str, int]) -> tuple[str, ...]:
    from torch.utils.flop_counter import flop_registry

    counted = {getattr(k, "__name__", str(k)) for k in flop_registry} | {
        getattr(k, "__name__", str(k)) for k in _NORM_MAPPING
    }
    return tuple(sorted(op for op in ops if op not in counted and op not in _SHAPE_OPS))


def count_module(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    mode: str = "meta",
    with_acts: bool = False,
    batch: int = 1,
    replay: bool = True,
) -> TracedCount:
    """Count one forward pass of ``model`` on an input of ``(batch, *input_shape)``.

    Args:
        model: a model built on the ``meta`` device (``mode="meta"``) or on the CPU.
        input_shape: one sample's shape, e.g. ``(3, 448, 448)``.
        mode: ``"meta"`` or ``"eager-cpu"``.
        with_acts: also count activations (a second traced pass).
        batch: batch size of the traced input.
        replay: on meta, run each distinct block once and replay its count for identical
            repeats, and memoise repeated meta kernels (:mod:`hirisearch.cost.replay`); the
            counts equal a full trace's.
    """
    device = "meta" if mode == "meta" else "cpu"
    model.eval()
    x = (
        torch.empty((batch, *input_shape), device=device)
        if mode == "meta"
        else torch.randn(batch, *input_shape)
    )
    start = time.perf_counter()
    ctx = sdpa_kernel([SDPBackend.MATH]) if mode != "meta" else nullcontext()
    replay = replay and mode == "meta"
    with ctx, gc_paused():
        counts, ops = _run(model, x, {**_NORM_MAPPING, **_RESAMPLE_MAPPING}, replay)
        acts_counts = None
        if with_acts:
            acts_map = {
                op: _acts_out
                for op in (aten.convolution, aten.mm, aten.addmm, aten.bmm, aten.baddbmm)
            }
            acts_counts, _ = _run(model, x, acts_map, replay)
    seconds = time.perf_counter() - start
    flops = _categorise(model, counts)
    acts = _categorise(model, acts_counts) if acts_counts is not None else {}
    params = _params_per_path(model)
    per_path: dict[str, Cost] = {}
    resample: dict[str, int] = {}
    order = [name for name, _ in model.named_modules() if name in flops or name in params]
    for path in [*order, *sorted((set(flops) | set(params)) - set(order))]:  # module order
        cats = flops.get(path, {})
        if cats.get("resample"):
            resample[path] = macs_from_torch_flops(cats["resample"])
        per_path[path] = Cost(
            params=params.get(path, 0),
            conv=macs_from_torch_flops(cats.get("conv", 0)),
            linear=macs_from_torch_flops(cats.get("linear", 0)),
            attn=macs_from_torch_flops(cats.get("attn", 0)),
            other=macs_from_torch_flops(cats.get("other", 0)),
            norm=macs_from_torch_flops(cats.get("norm", 0)),
            acts=macs_from_torch_flops(sum(acts.get(path, {}).values())),
        )
    return TracedCount(
        mode=mode,
        total=per_path.get("", Cost()),
        per_path=per_path,
        uncounted_ops=_uncounted(ops),
        seconds=seconds,
        input_shape=(batch, *input_shape),
        resample=resample,
    )


def count_traced(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    *,
    batch: int = 1,
    with_acts: bool = False,
    allow_eager: bool = True,
    eager_bytes: int | None = None,
    source: str | None = None,
) -> TracedCount:
    """Build a model with ``build(device=...)`` and count it, on meta first, eagerly if needed.

    ``build`` must accept ``device`` (and ``dtype``) keywords. The eager fallback builds on the CPU
    and runs a real forward pass, so it costs memory and time; the result's ``note`` says it ran.
    Before it allocates anything, the fallback is refused (:class:`CountingError`) when its memory
    exceeds what the CPU has available: ``eager_bytes`` (e.g. the analytic estimate of
    :func:`hirisearch.memory.estimate_memory`), or else the meta model's parameters and input.

    ``source`` names a model built by the user's code (a target reference): a forward that fails
    on the input, on meta and on the CPU, is then a :class:`CountingError` naming it.
    """
    model: nn.Module | None = None
    try:
        with gc_paused():
            with MetaBuild():
                model = build(device="meta")
            return count_module(model, input_shape, mode="meta", with_acts=with_acts, batch=batch)
    except TypeError as e:
        if source is None:
            raise
        raise _forward_failed(source, e, batch, input_shape) from None
    except (OverflowError, NotImplementedError, RuntimeError) as e:
        if interrupt.requested():  # Ctrl-C surfaced through torch as another error: no fallback
            raise KeyboardInterrupt from None
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, OverflowError) or "overflow" in str(e).lower():
            # Too large for torch's 64-bit sizes: an eager run could only fail or exhaust memory.
            raise CountingError(
                f"the model's tensors are too large for torch's 64-bit sizes ({first[:120]})"
            ) from None
        if not allow_eager:
            raise CountingError(
                f"meta-device count failed ({type(e).__name__}: {str(e).splitlines()[0]})"
            ) from None
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    _check_eager_memory(reason, model, input_shape, batch, eager_bytes)
    try:
        model = build(device="cpu")
        result = count_module(
            model, input_shape, mode="eager-cpu", with_acts=with_acts, batch=batch
        )
    except (TypeError, RuntimeError, ValueError, AssertionError, IndexError) as e:
        if source is None or interrupt.requested():
            raise
        raise _forward_failed(source, e, batch, input_shape) from None
    return TracedCount(
        mode=result.mode,
        total=result.total,
        per_path=result.per_path,
        uncounted_ops=result.uncounted_ops,
        seconds=result.seconds,
        note=f"meta-device count failed ({reason[:120]}); counted eagerly on the CPU",
        input_shape=result.input_shape,
        resample=result.resample,
    )


def _forward_failed(
    source: str, e: BaseException, batch: int, input_shape: tuple[int, ...]
) -> CountingError:
    text = str(e).strip().splitlines()
    detail = f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__
    shape = "x".join(str(d) for d in (batch, *input_shape))
    return CountingError(f"{source}: the model's forward failed on a {shape} input ({detail})")


def _check_eager_memory(
    reason: str,
    meta_model: nn.Module | None,
    input_shape: tuple[int, ...],
    batch: int,
    eager_bytes: int | None,
) -> None:
    from hirisearch.memory import available_memory_bytes

    need = eager_bytes
    if need is None and meta_model is not None:
        need = sum(p.numel() * p.element_size() for p in meta_model.parameters())
        need += batch * math.prod(input_shape) * 4
    if need is None:
        return
    available = available_memory_bytes("cpu")
    if need > available:
        raise CountingError(
            f"meta-device count failed ({reason[:120]}) and an eager count would need an "
            f"estimated {need / 2**30:.2f} GiB, more than the {available / 2**30:.2f} GiB available"
        )


# ------------------------------------------------------------------- cross-check counters
@dataclass(frozen=True)
class CrossCheck:
    """One external counter's total on the same model and input, in MACs."""

    counter: str
    macs: int | None
    params: int | None
    misses: str
    seconds: float
    error: str = ""


#: What each external counter misses, as the column label says it.
COUNTER_MISSES = {
    "fvcore": "misses fused SDPA attention; counts BN/LN (2 and 5 per element)",
    "thop": "misses attention matmuls (functional ops) and SDPA; counts BN",
    "ptflops": "misses fused SDPA attention and functional matmuls; counts norms and activations",
}
COUNTERS = tuple(COUNTER_MISSES)


def cross_check(counter: str, model: nn.Module, input_shape: tuple[int, ...]) -> CrossCheck:
    """Count ``model`` (built on the CPU) with an external counter, eagerly, batch 1."""
    if counter not in COUNTER_MISSES:
        raise CountingError(f"unknown counter {counter!r}; valid: {', '.join(COUNTERS)}")
    model.eval()
    x = torch.randn(1, *input_shape)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            macs, params = _COUNTER_FNS[counter](model, x)
    except Exception as e:  # noqa: BLE001 - third-party counters fail in many ways; report, don't crash
        return CrossCheck(
            counter,
            None,
            None,
            COUNTER_MISSES[counter],
            time.perf_counter() - start,
            f"{type(e).__name__}: {e}"[:200],
        )
    return CrossCheck(
        counter,
        int(macs),
        None if params is None else int(params),
        COUNTER_MISSES[counter],
        time.perf_counter() - start,
    )


def _fvcore(model: nn.Module, x: torch.Tensor) -> tuple[float, int | None]:
    import logging

    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analysis.total(), sum(p.numel() for p in model.parameters())


def _thop(model: nn.Module, x: torch.Tensor) -> tuple[float, int | None]:
    import copy

    from thop import profile

    macs, params = profile(copy.deepcopy(model), inputs=(x,), verbose=False)
    return macs, int(params)


def _ptflops(model: nn.Module, x: torch.Tensor) -> tuple[float, int | None]:
    from ptflops import get_model_complexity_info

    macs, params = get_model_complexity_info(
        model,
        tuple(x.shape[1:]),
        as_strings=False,
        print_per_layer_stat=False,
        verbose=False,
        backend="pytorch",
    )
    return macs, params


_COUNTER_FNS: dict[str, Callable[[nn.Module, torch.Tensor], tuple[float, int | None]]] = {
    "fvcore": _fvcore,
    "thop": _thop,
    "ptflops": _ptflops,
}
