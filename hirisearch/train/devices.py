"""Memory sizes of training devices, and what a training step may use of them (no torch).

A memory is given as a device name (:data:`DEVICES`), a size with a unit (``80GB`` = 80 x 10^9
bytes, ``80GiB`` = 80 x 2^30; ``MB``/``MiB``, ``TB``/``TiB`` likewise) or a number of bytes. What
a step may use is that size less :data:`CUDA_RESERVE_BYTES`.
"""

from __future__ import annotations

import re
from typing import Final

from hirisearch.errors import TrainError

__all__ = ["CUDA_RESERVE_BYTES", "DEVICES", "Memory", "parse_memory"]

MIB: Final = 2**20
GIB: Final = 2**30

#: Bytes of a CUDA device a training step cannot have: the CUDA context with cuBLAS and cuDNN
#: loaded (0.3 to 0.6 GiB), their workspaces, and room for the caching allocator's
#: fragmentation above the peak of live tensors (what the analytic and simulated peaks and
#: ``torch.cuda.max_memory_allocated`` count).
CUDA_RESERVE_BYTES: Final = 2 * GIB

#: Training devices: name -> (title, total bytes, as ``nvidia-smi`` reports the board's memory).
DEVICES: Final[dict[str, tuple[str, int]]] = {
    "rtx-4090": ("GeForce RTX 4090 24 GB", 24564 * MIB),
    "l4": ("L4 24 GB", 23034 * MIB),
    "a100-40gb": ("A100 40 GB", 40960 * MIB),
    "l40s": ("L40S 48 GB", 46068 * MIB),
    "a100-80gb": ("A100 80 GB", 81920 * MIB),
    "h100-80gb": ("H100 80 GB", 81559 * MIB),
    "h200": ("H200 141 GB", 143771 * MIB),
}
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$")


class Memory:
    """A memory to fit a training step into: ``label`` names it, ``total`` is its bytes and
    ``usable`` what a step may use (``total`` less the reserve)."""

    __slots__ = ("label", "total", "usable")

    def __init__(self, label: str, total: int, reserve: int = CUDA_RESERVE_BYTES) -> None:
        self.label = label
        self.total = total
        self.usable = max(0, total - reserve)

    def __repr__(self) -> str:
        return f"Memory({self.label!r}, total={self.total}, usable={self.usable})"


def parse_memory(text: str | int, *, reserve: int = CUDA_RESERVE_BYTES) -> Memory:
    """A device name, a size with a unit, or bytes (module docstring) -> :class:`Memory`."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise TrainError(f"a memory size must be > 0 bytes, but got {text}")
        return Memory(f"{text} B", text, reserve)
    key = str(text).strip().lower()
    if key in DEVICES:
        return Memory(key, DEVICES[key][1], reserve)
    m = _SIZE.match(key)
    if not m or m.group(2) not in _UNITS:
        raise TrainError(
            f"unknown memory {text!r}; give a size such as 80GB, 24GiB or a number of bytes, "
            f"or a device: {', '.join(DEVICES)}"
        )
    total = int(float(m.group(1)) * _UNITS[m.group(2)])
    if total <= 0:
        raise TrainError(f"a memory size must be > 0 bytes, but got {text!r}")
    return Memory(str(text).strip(), total, reserve)
