"""The peak memory of a real training step, measured.

- **CUDA**: ``torch.cuda.max_memory_allocated`` over one step, after a warm-up step (the caching
  allocator's peak of live tensors, the figure the simulation models; its reserved-but-free cache
  is not counted).
- **CPU**: the step runs in a fresh Python process (:mod:`hirisearch.train.rss_worker`) started with
  glibc's ``MALLOC_MMAP_THRESHOLD_`` lowered to :data:`MMAP_THRESHOLD`, so every allocation that
  size or larger is its own ``mmap`` and goes back to the operating system the moment it is freed:
  the process's resident memory then follows its live tensors. After a warm-up step the worker
  resets the kernel's peak-resident counter (``5`` written to ``/proc/self/clear_refs`` resets
  ``VmHWM``), runs one step and reads ``VmHWM`` from ``/proc/self/status``. The step's peak is
  the growth ``VmHWM - VmRSS`` (resident before the step) plus the bytes held between steps
  (parameters, buffers, input, optimizer state), which ``VmRSS`` already holds. It includes what
  the simulation cannot see: scratch memory of the CPU kernels (oneDNN convolutions, the
  attention kernel's per-thread buffers), allocator rounding to pages, and small allocations
  served from the heap.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from hirisearch.errors import TrainError
from hirisearch.train.config import TrainConfig

__all__ = ["MMAP_THRESHOLD", "WARMUP_STEPS", "MeasuredPeak", "measure_train_peak"]

#: Allocations of at least this many bytes are mmapped, and unmapped when freed (CPU method).
MMAP_THRESHOLD = 16384
#: Steps run before the measured one (the optimizer state, thread pools and kernel caches come to
#: be in the first).
WARMUP_STEPS = 1


@dataclass(frozen=True)
class MeasuredPeak:
    """Bytes of one measured training step: ``peak`` (the step's), ``states`` (held between
    steps), and how: ``method`` names the device's method."""

    peak: int
    states: int
    device: str
    method: str

    def to_json(self) -> dict[str, int | str]:
        return {
            "peak": self.peak,
            "states": self.states,
            "device": self.device,
            "method": self.method,
        }


def _states_bytes(tensors: list[torch.Tensor]) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def run_measured(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    config: TrainConfig,
    checkpoint_units: tuple[str, ...],
    device: str,
) -> MeasuredPeak:
    """Build, warm up and measure one step in this process (the CPU worker and CUDA call it)."""
    from hirisearch.train.step import TrainStep

    dev = torch.device(device)
    model = build(device=dev)
    step = TrainStep(model, input_shape, config, checkpoint_units)
    for _ in range(WARMUP_STEPS):
        step.run()
    step.model.zero_grad(set_to_none=True)  # as the step's own first act: gradients are not held
    states = _states_bytes(step.state_tensors())
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        step.run()
        torch.cuda.synchronize(dev)
        return MeasuredPeak(
            torch.cuda.max_memory_allocated(dev), states, device, "torch.cuda.max_memory_allocated"
        )
    import gc

    gc.collect()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step.run()
    hwm = _status("VmHWM")
    method = f"VmHWM - VmRSS + states, MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}"
    return MeasuredPeak(hwm - before + states, states, device, method)


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise TrainError(f"no {field} in /proc/self/status")


def measure_train_peak(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    config: TrainConfig,
    *,
    checkpoint_units: tuple[str, ...] = (),
    device: str = "cpu",
    timeout_s: float = 1800.0,
) -> MeasuredPeak:
    """Measure the peak memory of a real training step of ``build(device=...)`` on ``device``.

    On the CPU the step runs in a fresh process (module docstring), so ``build`` must be
    picklable (a family's ``functools.partial(family.build, plan)`` is). ``config.device`` should
    be the kind of ``device``; the step runs as torch runs it there either way.
    """
    if torch.device(device).type == "cuda":
        return run_measured(build, input_shape, config, checkpoint_units, device)
    if torch.device(device).type != "cpu":
        raise TrainError(f"cannot measure training memory on {device!r}; valid: cpu, cuda")
    if not os.path.exists("/proc/self/clear_refs"):
        raise TrainError("measuring CPU memory needs Linux's /proc/self/clear_refs")
    try:
        job = pickle.dumps((build, input_shape, config, checkpoint_units))
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TrainError(f"the model builder cannot be sent to a worker process ({e})") from None
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [sys.executable, "-m", "hirisearch.train.rss_worker"],
        input=job,
        capture_output=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise TrainError(f"the measuring worker failed: {tail[0][:200]}")
    return pickle.loads(proc.stdout)
