"""Timing real forward passes: per model x resolution x batch, on the CPU or a CUDA device.

Method (docs/reference/counting.md, "Latency practice"): eval mode and ``torch.inference_mode``;
warm-up for a fixed time; then forward passes repeated until a minimum measuring time, each timed
with CUDA events (CUDA) or ``perf_counter`` (CPU) with synchronisation; autocast for bf16/fp16;
``cudnn.benchmark`` on CUDA; a fixed, reported thread count on the CPU (restored afterwards).
Results are :class:`~hirisearch.latency.result.BenchResult` records; an out-of-memory batch becomes a result with ``status="oom"`` and the
remaining batches still run.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hirisearch.cost.memory import estimate_memory
from hirisearch.cost.types import CostNode
from hirisearch.errors import HirisearchError
from hirisearch.latency.device import (
    check_dtype,
    cpu_threads,
    cudnn_benchmark,
    device_name,
)
from hirisearch.latency.fuse import fuse_model
from hirisearch.latency.result import BenchResult, Environment
from hirisearch.latency.stats import NOISY_IQR_RATIO, Summary, summarize
from hirisearch.latency.timing import sync as _sync
from hirisearch.latency.timing import time_callable
from hirisearch.targets.inputs import InputSpec, materialise

if TYPE_CHECKING:
    from hirisearch.targets import Size, SizedTarget, Target

__all__ = [
    "BenchOptions",
    "BenchResult",
    "time_callable",
    "measure_forward",
    "bench_target",
    "is_oom",
]


@dataclass(frozen=True)
class BenchOptions:
    """How to measure. ``threads=None`` keeps torch's current CPU thread count (and reports it)."""

    device: torch.device = torch.device("cpu")
    dtype: str = "fp32"
    threads: int | None = None
    channels_last: bool = False
    compile: bool = False
    fuse: bool = False
    warmup_s: float = 0.5
    min_time_s: float = 2.0
    min_runs: int = 5
    max_runs: int = 10_000
    clock: str = "wall"


# ------------------------------------------------------------------------------- memory
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _proc_kib(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the process's peak resident size (VmHWM) to its current size (Linux >= 4.0)."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def _peak_memory(device: torch.device) -> Iterator[dict[str, Any]]:
    """Measure the peak memory of the block: CUDA max allocated, or CPU peak resident growth."""
    out: dict[str, Any] = {"bytes": None, "kind": ""}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        yield out
        torch.cuda.synchronize(device)
        out["bytes"] = int(torch.cuda.max_memory_allocated(device))
        out["kind"] = "cuda max allocated"
        return
    reset = _reset_peak_rss()
    before = _proc_kib("VmRSS")
    yield out
    peak = _proc_kib("VmHWM")
    if before is not None and peak is not None:
        out["bytes"] = max(0, peak - before)
        out["kind"] = "cpu peak RSS growth" + ("" if reset else " (peak not resettable)")


# ----------------------------------------------------------------------------- one model
def is_oom(e: BaseException) -> bool:
    """Whether ``e`` is an out-of-memory failure (CUDA, or the CPU allocator)."""
    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    msg = str(e).lower()
    return isinstance(e, RuntimeError) and (
        "out of memory" in msg or "can't allocate memory" in msg or "not enough memory" in msg
    )


def _autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    if dtype == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=check_dtype(dtype))


def measure_forward(
    model: nn.Module,
    x: torch.Tensor | tuple[tuple[Any, ...], dict[str, Any]],
    opts: BenchOptions,
) -> tuple[Summary, int | None, str]:
    """Time ``model(x)`` (or ``model(*args, **kwargs)`` for ``x = (args, kwargs)``) under
    ``opts``, model and inputs already on the device.

    Returns the timing summary, the peak memory of the first pass in bytes (CUDA max allocated, or
    CPU peak resident growth) and what that figure is.
    """
    device = opts.device
    args, kwargs = ((x,), {}) if isinstance(x, torch.Tensor) else x
    with torch.inference_mode(), _autocast(device, opts.dtype):
        with _peak_memory(device) as peak:
            model(*args, **kwargs)
            _sync(device)
        samples = time_callable(
            lambda: model(*args, **kwargs),
            device,
            warmup_s=opts.warmup_s,
            min_time_s=opts.min_time_s,
            min_runs=opts.min_runs,
            max_runs=opts.max_runs,
            clock=opts.clock if device.type == "cpu" else "wall",
        )
    return summarize(samples), peak["bytes"], peak["kind"]


def prepare_model(model: nn.Module, opts: BenchOptions) -> tuple[nn.Module, int]:
    """Eval mode, optional BN folding, device, memory format and ``torch.compile``."""
    model = model.eval()
    fused = fuse_model(model) if opts.fuse else 0
    model = model.to(opts.device)
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if opts.compile:
        model = torch.compile(model)  # type: ignore[assignment]
    return model, fused


def environment(opts: BenchOptions, threads: int) -> Environment:
    return Environment(
        device=str(opts.device),
        device_name=device_name(opts.device),
        torch_version=torch.__version__,
        threads=threads,
        dtype=opts.dtype,
        channels_last=opts.channels_last,
        compile=opts.compile,
        fuse=opts.fuse,
    )


def bench_model(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...] | InputSpec,
    batches: Sequence[int],
    opts: BenchOptions,
    *,
    macs_per_sample: int,
    base: BenchResult,
    tree: CostNode | None = None,
    predict: Callable[[int], Any] | None = None,
) -> Iterator[BenchResult]:
    """Measure one model at one input size for each batch size, yielding one result per batch.

    Args:
        build: ``build(device=..., dtype=...)`` returning the model.
        input_shape: one sample's image shape, or every input (example inputs are measured
            at their own batch, the only one in ``batches``).
        base: a result carrying the identity fields (spec, name, family, img_size); copied.
        tree: the analytic cost tree, for the memory estimate.
        predict: ``batch -> Prediction`` (:class:`hirisearch.latency.interval.Prediction`),
            stored next to the measurement.
    """
    check_dtype(opts.dtype)
    spec = input_shape if isinstance(input_shape, InputSpec) else InputSpec.image(input_shape)
    with cpu_threads(opts.threads if opts.device.type == "cpu" else None) as threads:
        env = environment(opts, threads)
        with cudnn_benchmark(opts.device):
            model, _ = prepare_model(build(), opts)
            for batch in batches:
                macs = macs_per_sample * batch
                est = (
                    estimate_memory(
                        tree, spec.first.shape, batch=batch, dtype=opts.dtype
                    ).total_bytes
                    if tree is not None
                    else None
                )
                result = replace(
                    base,
                    batch=batch,
                    macs=macs,
                    env=env,
                    mem_est_bytes=est,
                    **_predicted(predict, batch),
                )
                try:
                    summary, peak, kind = _timed(model, spec, batch, opts)
                except Exception as e:  # noqa: BLE001 - classified below; other errors re-raised
                    if not is_oom(e):
                        raise
                    if opts.device.type == "cuda":
                        torch.cuda.empty_cache()
                    yield replace(
                        result,
                        status="oom",
                        error=" ".join(f"{type(e).__name__}: {e}".split())[:200],
                    )
                    continue
                warnings = []
                if summary.noisy:
                    warnings.append(
                        f"IQR/median = {summary.iqr_ratio:.0%} > {NOISY_IQR_RATIO:.0%}: noisy "
                        "measurement (other load on the machine?)"
                    )
                seconds = summary.median_ms / 1e3
                yield replace(
                    result,
                    status="ok",
                    latency_ms=summary.median_ms,
                    iqr_ms=summary.iqr_ms,
                    p90_ms=summary.p90_ms,
                    mean_ms=summary.mean_ms,
                    min_ms=summary.min_ms,
                    runs=summary.runs,
                    throughput=batch / seconds if seconds > 0 else math.inf,
                    gmacs_per_s=macs / 1e9 / seconds if seconds > 0 else math.inf,
                    peak_mem_bytes=peak,
                    peak_mem_kind=kind,
                    warnings=tuple(warnings),
                )


def _timed(
    model: nn.Module, spec: InputSpec, batch: int, opts: BenchOptions
) -> tuple[Summary, int | None, str]:
    """:func:`measure_forward` on a batch of inputs made on the device (NHWC images with
    ``channels_last``); the inputs are released when it returns or raises."""
    args, kwargs = materialise(spec, opts.device, batch=batch)
    if opts.channels_last:
        args = tuple(_channels_last(a) for a in args)
    return measure_forward(model, (args, kwargs), opts)


def _channels_last(x: Any) -> Any:
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def macs_of(sized: SizedTarget) -> int:
    """MACs per sample: analytic when the target has a cost model, else traced on the meta device."""
    if sized.tree is not None:
        return sized.tree.total.macs
    from hirisearch.cost.counters import count_traced

    spec = sized.input_spec
    count = count_traced(sized.instance, spec, source=sized.target.ref)
    return count.total.macs // (spec.own_batch or 1)


def _predicted(predict: Callable[[int], Any] | None, batch: int) -> dict[str, Any]:
    """The prediction fields of a result (none without ``predict``)."""
    if predict is None:
        return {}
    doc = predict(batch).to_json()
    doc["predicted_interval_ms"] = tuple(doc["predicted_interval_ms"])
    return doc


def bench_target(
    target: Target,
    img_size: Size | None,
    batches: Sequence[int],
    opts: BenchOptions,
    *,
    calibration: Any = None,
    coverage: float = 0.9,
) -> Iterator[BenchResult]:
    """Measure a :class:`hirisearch.targets.Target` at ``img_size`` for each batch size.

    Args:
        calibration: a :class:`hirisearch.latency.predict.Calibration`; when given (and the
            target has an analytic cost tree) each result carries the predicted latency too,
            with its interval at ``coverage``.
    """
    sized = target.at(img_size)
    own = sized.input_spec.own_batch
    if own is not None and list(batches) != [own]:
        raise HirisearchError(
            f"{target.ref}: the example inputs carry their own batch ({own}), but batches "
            f"{', '.join(str(b) for b in batches)} were asked"
        )
    tree = sized.tree
    predict = None
    if calibration is not None and tree is not None:
        from hirisearch.latency.predict import predict_interval

        predict = lambda b: predict_interval(  # noqa: E731
            tree, calibration, batch=b, family=target.family, coverage=coverage
        )
    base = BenchResult(
        spec=target.ref,
        name=target.name,
        family=target.family,
        img_size=sized.resolution,
        batch=0,
        status="",
        macs=0,
    )
    yield from bench_model(
        sized.build,
        sized.input_spec,
        batches,
        opts,
        macs_per_sample=macs_of(sized),
        base=base,
        tree=tree,
        predict=predict,
    )
