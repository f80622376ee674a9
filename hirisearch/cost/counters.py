"""Traced counters, normalised to the hirisearch convention (MACs, attention included).

The primary traced count is torch's ``FlopCounterMode`` on a model built on the ``meta`` device: no
memory is allocated, any resolution runs in well under a second, and SDPA decomposes into ``bmm``
there so attention is counted. Operators without a meta kernel make the meta run fail; then the count
falls back to an eager run on the CPU with SDPA forced to its math path (the fused CPU kernel counts as
zero otherwise), and the result says so.

fvcore, thop and ptflops are offered as cross-check columns; each is labelled with what it misses.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from hirisearch import interrupt
from hirisearch.cost.convention import macs_from_torch_flops, torch_flops_from_macs

# The cross-check counters (fvcore, thop, ptflops) live in their own module; re-exported here.
from hirisearch.cost.cross_check import COUNTER_MISSES, COUNTERS, CrossCheck, cross_check
from hirisearch.cost.custom_ops import OpCount, op_counts
from hirisearch.cost.meta import MetaBuild
from hirisearch.cost.ops import (
    NORM_MAPPING,
    RESAMPLE_MAPPING,
    RESAMPLE_NAMES,
    SHAPE_OPS,
    AdaptivePoolAsOp,
    OpRecorder,
    acts_out,
    category,
    display_name,
)
from hirisearch.cost.replay import MetaKernelCache, Replayer, expand
from hirisearch.cost.sites import CallSites, has_shared_modules, site_order
from hirisearch.cost.state import preserved
from hirisearch.cost.types import Cost
from hirisearch.errors import CountingError
from hirisearch.runtime import gc_paused
from hirisearch.targets.inputs import InputSpec, Instance, materialise

#: What a count takes as inputs: one sample's image shape (``(3, 224, 224)``) or a full spec.
Inputs = tuple[int, ...] | InputSpec

aten = torch.ops.aten


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
    #: The resampling operators that ran (``uncounted_ops`` leaves them out: fvcore counts them).
    resample_ops: tuple[str, ...] = ()
    #: The operators that ran and were counted by the user's functions (``register_op_count``).
    custom_ops: tuple[str, ...] = ()
    train: bool = False  # counted in training mode (BatchNorm on batch statistics)
    acts_counted: bool = False  # ``acts`` were counted (``with_acts``)


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


def _categorise(
    model: nn.Module, op_flops: dict[str, dict[Any, int]], linear_paths: set[str] | None = None
) -> dict[str, dict[str, int]]:
    """Operator categories per module path.

    A matmul is ``linear`` when it runs inside an ``nn.Linear`` (a linear on a non-contiguous 3D
    input traces as ``bmm``, so the operator alone cannot tell), and ``attn`` otherwise; a
    module's ``linear`` is the work of the outermost ``nn.Linear`` calls at or below it (the
    model itself, when it is one). ``linear_paths`` are the paths of those calls (default: every
    ``nn.Linear`` of ``named_modules()``). Containers that are never called (``nn.ModuleList``)
    get the sum of their children.
    """
    if linear_paths is None:
        linear_paths = {name for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    linear_flops: dict[str, int] = defaultdict(int)
    for lp in linear_paths:
        total = sum(op_flops.get(lp, {}).values())
        if not total or any(a in linear_paths for a in _ancestors(lp)):
            continue  # nothing ran, or inside an outer nn.Linear that holds it already
        for path in {*_ancestors(lp), lp}:
            linear_flops[path] += total
    out: dict[str, dict[str, int]] = {}
    for path, ops in op_flops.items():
        cats: dict[str, int] = defaultdict(int)
        for op, flops in ops.items():
            cat = category(op)
            cats["attn" if cat in ("linear", "attn") else cat] += flops
        cats["linear"] = linear_flops.get(path, 0)
        cats["attn"] -= cats["linear"]
        out[path] = dict(cats)
    # Bottom-up sums for containers whose forward never ran (children grouped by parent once, so
    # this stays linear in the number of modules).
    names = list(dict.fromkeys([*site_order(model), *op_flops]))
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


def _ancestors(path: str) -> list[str]:
    """``"a.b.c"`` -> ``["", "a", "a.b"]``; the root has none."""
    if not path:
        return []
    parts = path.split(".")
    return ["", *(".".join(parts[:i]) for i in range(1, len(parts)))]


def _costs(
    model: nn.Module, flops: dict[str, dict[str, int]], acts: dict[str, dict[str, int]]
) -> tuple[dict[str, Cost], dict[str, int]]:
    """``{path: Cost}`` in MACs for every module, in module order (counted or not, as fvcore's
    ``by_module`` lists them), and the resampling work per path."""
    params = _params_per_path(model)
    per_path: dict[str, Cost] = {}
    resample: dict[str, int] = {}
    order = site_order(model)
    for path in dict.fromkeys([*order, *sorted((set(flops) | set(params)) - set(order))]):
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
    return per_path, resample


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
    call: tuple[tuple[Any, ...], dict[str, Any]],
    mapping: dict[Any, Callable[..., int]],
    replay: bool,
    sites: bool,
) -> tuple[dict[str, dict[Any, int]], dict[str, int], set[str] | None]:
    """One counted forward pass: ``({path: {op: torch flops}}, {op name: calls}, linear call
    paths)``; with ``sites``, attributed by call site (:mod:`hirisearch.cost.sites`)."""
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    recorder = OpRecorder(MetaKernelCache() if replay else None)
    replayer = Replayer(model) if replay and not sites else None
    calls = CallSites(model, counter) if sites else None
    args, kwargs = call
    with _no_grad_params(model), torch.inference_mode(), AdaptivePoolAsOp():
        with replayer.active() if replayer else nullcontext(), recorder, counter:
            with calls.active() if calls else nullcontext():
                model(*args, **kwargs)
    if calls is not None:
        return calls.counts(), dict(recorder.ops), calls.linear_paths
    per_path = _op_flops_per_path(counter.get_flop_counts(), type(model).__name__)
    if replayer is not None:
        per_path = expand(per_path, replayer.replays, model, replayer.called)
    return per_path, dict(recorder.ops), None


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


def _uncounted(ops: dict[str, int], known: set[str]) -> tuple[str, ...]:
    from torch.utils.flop_counter import flop_registry

    counted = {display_name(k) for k in flop_registry} | {display_name(k) for k in NORM_MAPPING}
    skip = counted | SHAPE_OPS | RESAMPLE_NAMES | known
    return tuple(sorted(op for op in ops if op not in skip))


def _custom_mapping(counts: dict[str, OpCount]) -> dict[Any, Callable[..., int]]:
    """The user's counts (MACs) as ``FlopCounterMode`` handles (its scale), for every overload."""
    mapping: dict[Any, Callable[..., int]] = {}
    for name, fn in counts.items():
        namespace, _, op = name.partition("::")
        try:
            packet = getattr(getattr(torch.ops, namespace), op)
        except (AttributeError, RuntimeError):
            raise CountingError(f"custom_ops: torch has no operator {name}") from None
        handle = _user_handle(name, fn)
        mapping[packet] = handle
        mapping.update({getattr(packet, o): handle for o in packet.overloads()})
    return mapping


def _user_handle(name: str, fn: OpCount) -> Callable[..., int]:
    def flops(*args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        try:
            macs = fn(*args, out_shape=out_shape, **kwargs)
        except Exception as e:  # noqa: BLE001 - the user's function: any failure is one line
            raise CountingError(
                f"the count given for {name} failed: {type(e).__name__}: {e}"
            ) from None
        if isinstance(macs, bool) or not isinstance(macs, int) or macs < 0:
            raise CountingError(
                f"the count given for {name} must return a non-negative int (MACs), "
                f"but returned {macs!r}"
            )
        return torch_flops_from_macs(macs)

    return flops


def count_module(
    model: nn.Module,
    inputs: Inputs,
    *,
    mode: str = "meta",
    with_acts: bool = False,
    batch: int = 1,
    replay: bool = True,
    train: bool = False,
    custom_ops: dict[Any, OpCount] | None = None,
    call: tuple[tuple[Any, ...], dict[str, Any]] | None = None,
) -> TracedCount:
    """Count one forward pass of ``model`` on ``inputs`` for a batch of ``batch``.

    The model's modes, ``requires_grad`` flags and (eagerly) buffers and random number
    generators are as they were when this returns (:func:`hirisearch.cost.state.preserved`).

    Args:
        model: a model built on the ``meta`` device (``mode="meta"``) or on the CPU.
        inputs: one sample's image shape, e.g. ``(3, 448, 448)``, or an
            :class:`~hirisearch.targets.inputs.InputSpec` (several inputs, any dtype).
        mode: ``"meta"`` or ``"eager-cpu"``.
        with_acts: also count activations (a second traced pass).
        batch: batch size of the traced input (inputs given as shapes).
        replay: on meta, run each distinct block once and replay its count for identical
            repeats, and memoise repeated meta kernels (:mod:`hirisearch.cost.replay`); the
            counts equal a full trace's. Models with shared modules are counted by call site
            (:mod:`hirisearch.cost.sites`) instead of replayed.
        train: count in training mode (BatchNorm on batch statistics, as fvcore counts it).
        custom_ops: counts for operators the counter does not know, over the registered ones
            (:mod:`hirisearch.cost.custom_ops`).
        call: the ``(args, kwargs)`` to call the model with (default: made from ``inputs``).
    """
    spec = inputs if isinstance(inputs, InputSpec) else InputSpec.image(inputs)
    device = "meta" if mode == "meta" else mode.removeprefix("eager-")
    args, kwargs = call if call is not None else materialise(spec, device, batch=batch)
    user = op_counts(custom_ops)
    mapping = {**NORM_MAPPING, **RESAMPLE_MAPPING, **_custom_mapping(user)}
    sites = has_shared_modules(model)
    start = time.perf_counter()
    ctx = sdpa_kernel([SDPBackend.MATH]) if mode != "meta" else nullcontext()
    replay = replay and mode == "meta"
    with preserved(model, values=mode != "meta"), ctx, gc_paused():
        model.train(train)
        counts, ops, linear = _run(model, (args, kwargs), mapping, replay, sites)
        acts_counts = None
        if with_acts:
            acts_map = {
                op: acts_out
                for op in (aten.convolution, aten.mm, aten.addmm, aten.bmm, aten.baddbmm)
            }
            acts_counts, _, _ = _run(model, (args, kwargs), acts_map, replay, sites)
    seconds = time.perf_counter() - start
    flops = _categorise(model, counts, linear)
    acts = _categorise(model, acts_counts, linear) if acts_counts is not None else {}
    per_path, resample = _costs(model, flops, acts)
    users = {name.removeprefix("aten::") for name in user}
    return TracedCount(
        mode=mode,
        total=per_path.get("", Cost()),
        per_path=per_path,
        uncounted_ops=_uncounted(ops, users),
        seconds=seconds,
        input_shape=(batch, *spec.sample_shape) if spec.own_batch is None else spec.first.shape,
        resample=resample,
        resample_ops=tuple(sorted(RESAMPLE_NAMES & set(ops))),
        custom_ops=tuple(sorted(users & set(ops))),
        train=train,
        acts_counted=with_acts,
    )


def count_traced(
    build: Callable[..., nn.Module | Instance],
    inputs: Inputs,
    *,
    batch: int = 1,
    with_acts: bool = False,
    allow_eager: bool = True,
    eager_bytes: int | None = None,
    source: str | None = None,
    train: bool = False,
    custom_ops: dict[Any, OpCount] | None = None,
) -> TracedCount:
    """Build a model with ``build(device=...)`` and count it, on meta first, eagerly if needed.

    ``build`` must accept ``device`` (and ``dtype``) keywords; it returns the model, or an
    :class:`~hirisearch.targets.inputs.Instance` (the model and the arguments of its forward, as
    :meth:`SizedTarget.instance <hirisearch.targets.SizedTarget.instance>` does), else the
    arguments are made from ``inputs``. The eager fallback builds on the CPU and runs a real
    forward pass, so it costs memory and time; the result's ``note`` says it ran. Before it
    allocates anything, the fallback is refused (:class:`CountingError`) when its memory exceeds
    what the CPU has available: ``eager_bytes`` (e.g. the analytic estimate of
    :func:`hirisearch.cost.memory.estimate_memory`), or else the meta model's parameters and input.

    ``source`` names a model built by the user's code (a target reference): a forward that fails
    on the input, on meta and on the CPU, is then a :class:`CountingError` naming it. ``train``
    and ``custom_ops`` are :func:`count_module`'s.
    """
    spec = inputs if isinstance(inputs, InputSpec) else InputSpec.image(inputs)
    options: dict[str, Any] = {
        "with_acts": with_acts, "batch": batch, "train": train, "custom_ops": custom_ops
    }  # fmt: skip
    model: nn.Module | None = None
    try:
        with gc_paused():
            with MetaBuild():
                model, call = _unpack(build(device="meta"))
            return count_module(model, spec, mode="meta", call=call, **options)
    except TypeError as e:
        if source is None:
            raise
        raise _forward_failed(source, e, batch, spec) from None
    except ValueError as e:  # the model refuses the input (BatchNorm training on one value)
        raise _forward_failed(source or "the model", e, batch, spec) from None
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
    _check_eager_memory(reason, model, spec, batch, eager_bytes)
    try:
        model, call = _unpack(build(device="cpu"))
        result = count_module(model, spec, mode="eager-cpu", call=call, **options)
    except (TypeError, RuntimeError, ValueError, AssertionError, IndexError) as e:
        if source is None or interrupt.requested():
            raise
        raise _forward_failed(source, e, batch, spec) from None
    note = f"meta-device count failed ({reason[:120]}); counted eagerly on the CPU"
    return replace(result, note=note)


def _unpack(made: nn.Module | Instance) -> tuple[nn.Module, Any]:
    if isinstance(made, Instance):
        return made.model, (made.args, made.kwargs)
    return made, None


def _forward_failed(source: str, e: BaseException, batch: int, spec: InputSpec) -> CountingError:
    text = str(e).strip().splitlines()
    detail = f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__
    first = spec.first
    if len(list(spec.tensors())) == 1 and first.dtype == "float32" and spec.args[:1] == (first,):
        shape = "x".join(str(d) for d in ((batch,) if not spec.batched else ()) + first.shape)
        what = f"a {shape} input"
    else:
        what = "inputs " + ", ".join(spec.describe(batch))
    return CountingError(f"{source}: the model's forward failed on {what} ({detail})")


def _check_eager_memory(
    reason: str,
    meta_model: nn.Module | None,
    spec: InputSpec,
    batch: int,
    eager_bytes: int | None,
) -> None:
    from hirisearch.latency.device import available_memory_bytes

    need = eager_bytes
    if need is None and meta_model is not None:
        need = sum(p.numel() * p.element_size() for p in meta_model.parameters())
        need += spec.elements(batch) * 4
    if need is None:
        return
    available = available_memory_bytes("cpu")
    if need > available:
        raise CountingError(
            f"meta-device count failed ({reason[:120]}) and an eager count would need an "
            f"estimated {need / 2**30:.2f} GiB, more than the {available / 2**30:.2f} GiB available"
        )


__all__ = [
    "COUNTERS",
    "COUNTER_MISSES",
    "CrossCheck",
    "TracedCount",
    "count_module",
    "count_traced",
    "cross_check",
]
