"""Measured latency: ``bench`` (every target x size x batch), the latency of ``sweep --latency``
points, and what ``profile --latency`` / ``--predict`` add to a profile.

Each result is a :class:`~hirisearch.latency.result.BenchResult`; the memory estimate refuses a
configuration that would not fit before any model is built (``force`` skips the check). torch is
imported when a function is called, not by this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hirisearch.errors import HirisearchError
from hirisearch.latency.interval import DEFAULT_COVERAGE, Prediction, check_coverage
from hirisearch.latency.result import BenchResult
from hirisearch.targets import Size, Target

if TYPE_CHECKING:
    from hirisearch.latency.measure import BenchOptions

__all__ = [
    "ProfileLatency",
    "bench_targets",
    "latency_measurer",
    "latency_predictor",
    "profile_latency",
]


def bench_targets(
    targets: Sequence[Target],
    img_sizes: Sequence[Size | None],
    batches: Sequence[int],
    opts: BenchOptions,
    *,
    predict: bool = False,
    force: bool = False,
    coverage: float = DEFAULT_COVERAGE,
) -> Iterator[BenchResult]:
    """Measure every target at every size (``None``: its own) for each batch size, in that order.

    Every configuration is checked against the memory estimate first (``force``: not refused),
    then the calibration is loaded when ``predict`` asks for the predicted latency next to the
    measured one, with its interval at ``coverage``.
    """
    from hirisearch.latency import measure
    from hirisearch.latency.device import ensure_targets_fit

    ensure_targets_fit(targets, img_sizes, batches, opts.device, opts.dtype, force=force)
    calibration = None
    if predict:
        from hirisearch.latency.predict import load_calibration

        check_coverage(coverage)
        calibration = load_calibration(opts.device)
    for target in targets:
        for size in img_sizes:
            yield from measure.bench_target(
                target, size, batches, opts, calibration=calibration, coverage=coverage
            )


def latency_measurer(
    device: str, min_time_s: float, *, force: bool = False
) -> Callable[[Target, Size, int], float | None]:
    """``(target, img_size, batch) -> median ms`` through the bench machinery, each point checked
    against the memory estimate first (``None``: out of memory)."""
    from hirisearch.latency.device import ensure_targets_fit, resolve_device
    from hirisearch.latency.measure import BenchOptions, bench_target

    dev = resolve_device(device)
    opts = BenchOptions(device=dev, min_time_s=min_time_s, warmup_s=min(0.5, min_time_s))

    def measure(target: Target, size: Size, batch: int) -> float | None:
        ensure_targets_fit([target], [size], [batch], dev, force=force)
        (r,) = bench_target(target, size, [batch], opts)
        return r.latency_ms if r.status == "ok" else None

    return measure


def latency_predictor(
    device: str = "auto", coverage: float = DEFAULT_COVERAGE, *, strict: bool = True
) -> Callable[[Target, Any, int], Prediction | None]:
    """``(target, img_size, batch) -> Prediction``: the calibrated latency of a batch with its
    interval at ``coverage``, from the calibration of ``device`` (``auto``: CUDA when present,
    else the CPU), loaded once; a target without an analytic cost model is refused (``strict``)
    or gets None."""
    from hirisearch.latency.device import resolve_device
    from hirisearch.latency.predict import load_calibration, predict_interval

    check_coverage(coverage)
    calibration = load_calibration(resolve_device(device))

    def predict(target: Target, img_size: Any, batch: int) -> Prediction | None:
        tree = target.at(img_size).tree
        if tree is None and not strict:
            return None
        if tree is None:
            raise HirisearchError(f"{target.ref}: --predict needs an analytic cost model")
        return predict_interval(
            tree, calibration, batch=batch, family=target.family, coverage=coverage
        )

    return predict


@dataclass(frozen=True)
class ProfileLatency:
    """What ``profile --latency`` / ``--predict`` add to a profile (auto device)."""

    device: str  # the device type, ``cpu`` or ``cuda``
    batch: int
    predicted: Prediction | None = None  # with --predict: from the device's calibration
    measured: BenchResult | None = None  # with --latency

    def to_json(self) -> dict[str, Any]:
        """The keys ``profile --json`` adds to the profile's document (the prediction's:
        ``predicted_ms``, ``predicted_interval_ms``, ``predicted_coverage``, ...)."""
        doc: dict[str, Any] = {}
        if self.predicted is not None:
            doc.update(self.predicted.to_json())
        if self.measured is not None:
            doc["latency"] = self.measured.to_json()
        return doc


def profile_latency(
    target: Target,
    img_size: Size | None,
    batch: int,
    *,
    measure: bool,
    predict: bool,
    coverage: float = DEFAULT_COVERAGE,
) -> ProfileLatency:
    """The predicted (``predict``, with its interval at ``coverage``) and measured
    (``measure``) latency of ``target`` at ``img_size`` for a batch of ``batch``, on CUDA when
    present, else the CPU."""
    from hirisearch.latency.device import resolve_device

    dev = resolve_device("auto")
    ms = None
    if predict:
        ms = latency_predictor(dev.type, coverage)(target, img_size, batch)
    measured = None
    if measure:
        from hirisearch.latency.measure import BenchOptions, bench_target

        (measured,) = bench_target(target, img_size, [batch], BenchOptions(device=dev, fuse=True))
    return ProfileLatency(dev.type, batch, ms, measured)
