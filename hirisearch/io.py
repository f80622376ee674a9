"""Crash-safe file output: atomic writes and exclusive run folders.

Every result and report file is written to a temporary file in the same folder, flushed, fsynced
and renamed over the target, so a kill at any moment leaves either the old file or the new one,
never a truncated one. A run folder is claimed with an exclusive lock so that two runs writing to
the same ``--out`` folder are refused instead of corrupting each other.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hirisearch.errors import RunDirBusyError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], doc: Any) -> Path:
    return atomic_write_text(path, json.dumps(doc, indent=2, default=json_default) + "\n")


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)``: results (``to_json()``), sets and tuples, paths."""
    if hasattr(o, "to_json"):
        return o.to_json()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class RunDir:
    """An output folder held exclusively by this process while the context is open.

    >>> with RunDir("reports/run1") as run:  # doctest: +SKIP
    ...     atomic_write_json(run.path / "results.json", doc)
    """

    LOCK = ".hirisearch.lock"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirBusyError(
                f"{self.path}: another hirisearch run is writing to this folder; wait for it or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
