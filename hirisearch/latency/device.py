"""Device selection, the thread count and cuDNN settings a measurement runs under, and the memory
a device has: the refusal of configurations whose analytic estimate (:mod:`hirisearch.cost.memory`)
cannot fit."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from hirisearch.cost.memory import estimate_memory
from hirisearch.errors import DeviceError, MemoryBudgetError
from hirisearch.models.resolution import size_label

if TYPE_CHECKING:
    from hirisearch.targets import Size, Target

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: CUDA is not available on this machine; use cpu")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
        return dev
    raise DeviceError(f"--device: unknown device {name!r}; valid: {', '.join(DEVICES)}, cuda:N")


def check_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise DeviceError(f"--dtype: unknown dtype {name!r}; valid: {', '.join(DTYPES)}") from None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_name()


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[int]:
    """Fix torch's intra-op thread count for the block, restoring the previous count after."""
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise DeviceError(f"--threads must be >= 1, but got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """``cudnn.benchmark`` on for CUDA measurements (restored after)."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


# ------------------------------------------------------------------------------ memory
def _mem_available_cpu(meminfo: str | Path = "/proc/meminfo") -> int:
    try:
        text = Path(meminfo).read_text()
    except OSError as e:
        raise DeviceError(f"cannot read {meminfo} to check CPU memory: {e}") from None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise DeviceError(f"no MemAvailable line in {meminfo}")


def available_memory_bytes(device: torch.device | str) -> int:
    """Memory a configuration may use: total memory of a CUDA device, ``MemAvailable`` on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA is not available on this machine")
        index = device.index if device.index is not None else torch.cuda.current_device()
        return int(torch.cuda.get_device_properties(index).total_memory)
    if device.type == "cpu":
        return _mem_available_cpu()
    raise DeviceError(f"no memory check for device type {device.type!r}; valid: cpu, cuda")


def ensure_fits(
    estimate_bytes: int,
    device: torch.device | str,
    *,
    force: bool = False,
    what: str = "this configuration",
) -> None:
    """Refuse ``what`` when its estimated bytes exceed the device's memory, before allocating.

    Args:
        estimate_bytes: the estimate, e.g. ``estimate_memory(...).total_bytes``.
        device: the device it would run on.
        force: skip the refusal (the user passed ``--force``).
        what: named in the error, e.g. ``"<model name> at 448, batch 64"``.

    Raises:
        MemoryBudgetError: one line naming the estimate, the available memory and ``--force``.
    """
    if force:
        return
    available = available_memory_bytes(device)
    if estimate_bytes > available:
        raise MemoryBudgetError(
            f"{what} needs an estimated {estimate_bytes / 2**30:.2f} GiB but "
            f"{torch.device(device).type} has {available / 2**30:.2f} GiB available; "
            "use a smaller batch or resolution, or --force to try anyway"
        )


def ensure_targets_fit(
    targets: Sequence[Target],
    sizes: Sequence[Size | None],
    batches: Sequence[int],
    device: torch.device | str,
    dtype: str = "fp32",
    *,
    force: bool = False,
) -> None:
    """:func:`ensure_fits` for every target x size x batch, from the analytic cost alone.

    Models without an analytic cost (``timm:`` names, code targets) are not checked here (their
    memory is only known once built).
    """
    for target in targets:
        for size in sizes:
            sized = target.at(size)
            if sized.tree is None:
                continue
            for b in batches:
                est = estimate_memory(sized.tree, sized.input_shape, batch=b, dtype=dtype)
                ensure_fits(
                    est.total_bytes,
                    device,
                    force=force,
                    what=f"{target.name} at {size_label(sized.img_size)}, batch {b}",
                )
