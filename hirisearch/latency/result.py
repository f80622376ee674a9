"""What a latency measurement returns, torch-free: :class:`BenchResult` (one model at one size and
batch) and the :class:`Environment` it ran in. :mod:`hirisearch.latency.measure` fills them; the
``bench`` run folder's schema and CSV columns are read from their fields
(:mod:`hirisearch.report.run.bench`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from hirisearch.latency.stats import NOISY_IQR_RATIO
from hirisearch.ops import Count, ImgSize, NonNegative, Positive

__all__ = ["BenchResult", "Environment"]


@dataclass(frozen=True)
class Environment:
    """Where and how a measurement ran."""

    device: str
    device_name: str
    torch_version: str
    threads: int
    dtype: str
    channels_last: bool
    compile: bool
    fuse: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BenchResult:
    """One model at one resolution and batch. ``status`` is ``ok``, ``oom`` or ``error``; the
    measured fields are ``None`` unless it is ``ok``. Memory in bytes, latency in ms per batch."""

    kind: ClassVar[str] = "bench"

    spec: str
    name: str
    family: str
    img_size: ImgSize
    batch: Positive
    status: str
    macs: Count
    latency_ms: NonNegative | None = None
    iqr_ms: NonNegative | None = None
    p90_ms: NonNegative | None = None
    mean_ms: NonNegative | None = None
    min_ms: NonNegative | None = None
    runs: int = 0
    throughput: NonNegative | None = None
    gmacs_per_s: NonNegative | None = None
    peak_mem_bytes: Count | None = None
    peak_mem_kind: str = ""
    mem_est_bytes: int | None = None
    #: With ``--predict``: the calibrated prediction, its interval [low, high], the interval's
    #: stated coverage and where it comes from (:mod:`hirisearch.latency.interval`).
    predicted_ms: float | None = None
    predicted_interval_ms: tuple[float, float] | None = None
    predicted_coverage: float | None = None
    predicted_interval_basis: str | None = None
    env: Environment | None = None
    error: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def noisy(self) -> bool:
        if not self.latency_ms or self.iqr_ms is None:
            return False
        return self.iqr_ms / self.latency_ms > NOISY_IQR_RATIO

    def to_json(self) -> dict[str, Any]:
        """One flat record (the environment's fields at the top level): what ``bench --json``
        prints, one line per result."""
        doc = asdict(self)
        env = doc.pop("env") or {}
        doc.update(env)  # device, dtype, threads, ... at the top level
        doc["gmacs"] = self.macs / 1e9
        doc["noisy"] = self.noisy
        doc["warnings"] = list(self.warnings)
        if self.predicted_interval_ms is not None:
            doc["predicted_interval_ms"] = list(self.predicted_interval_ms)
        return doc

    @classmethod
    def run_document(cls, results: Sequence[BenchResult]) -> dict[str, Any]:
        """A ``bench`` run folder's fields: the records of the results that were measured."""
        return {"records": [r.to_json() for r in results if r.status == "ok"]}

    @classmethod
    def run_name(cls, results: Sequence[BenchResult]) -> str:
        return "+".join(dict.fromkeys(r.name for r in results))
