"""Calibrating the latency predictor on one device: time the operator micro-benchmarks and the
families' calibration networks, then fit (:mod:`hirisearch.latency.fit`).

The result is a :class:`hirisearch.latency.predict.Calibration`: per operator category a
roofline-style model fitted on operators timed alone, the in-network factor of each category and
the glue between operators fitted on whole networks.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from hirisearch.latency.fit import (
    adapt,
    fit,
    fit_family_categories,
    fit_insitu,
    fit_network_scales,
)
from hirisearch.latency.heldout import adapted_intervals, with_intervals
from hirisearch.latency.insitu import NodeSample, samples_from_runs, time_modules
from hirisearch.latency.microbench import COPIES, MicroBench, operator_benchmarks, single_op
from hirisearch.latency.predict import Calibration, CalibrationError, Sample
from hirisearch.latency.stats import summarize
from hirisearch.latency.timing import time_callable

__all__ = [
    "NETWORK_ROUNDS",
    "bench_op",
    "calibrate",
    "calibrate_quick",
    "default_micro_benchmarks",
    "quick_networks",
]

#: Rounds over the calibration networks (each network once per round).
NETWORK_ROUNDS = 3
#: Forward passes of each calibration network with every module timed, per round (after one
#: warm-up).
INSITU_RUNS = 2
#: Networks up to this many MACs are also timed module by module (in situ); larger ones, whole only
#: (the in-situ fit needs the small modules' range, the whole-network fit the sizes searched).
INSITU_MAX_MACS = 2_000_000_000


def default_micro_benchmarks() -> list[MicroBench]:
    """The operator tables and every registered family's calibration networks."""
    from hirisearch.latency.networks import network_benchmarks

    return operator_benchmarks() + network_benchmarks()


def bench_op(
    mb: MicroBench,
    device: torch.device,
    batch: int,
    min_time_s: float,
    clock: str = "wall",
    statistic: str = "median",
) -> float:
    """Time one micro-benchmark: ms per instance (median or min of the runs)."""
    # Several instances, run in turn: in a model every operator meets weights (and often inputs)
    # that are not in the caches, unlike one module timed over and over.
    pairs = []
    for _ in range(mb.copies):
        model = mb.make().eval().to(device)
        x = torch.randn(batch, *mb.input_shape, device=device)
        if mb.channels_last:
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        pairs.append((model, x))

    def run() -> None:
        for model, x in pairs:
            model(x)

    with torch.inference_mode():
        samples = time_callable(
            run,
            device,
            warmup_s=min_time_s / 3,
            min_time_s=min_time_s,
            min_runs=3,
            clock=clock if device.type == "cpu" else "wall",
        )
    summary = summarize([ms / len(pairs) for ms in samples])
    return summary.min_ms if statistic == "min" else summary.median_ms


def calibrate(
    device: torch.device,
    *,
    threads: int | None = None,
    min_time_s: float = 0.15,
    batch: int = 1,
    benches: Sequence[MicroBench] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    clock: str = "wall",
    statistic: str = "median",
) -> Calibration:
    """Time the micro-benchmarks on ``device`` and fit the predictor.

    Every module of every small calibration network is timed where it runs; those in-situ times, with
    any single-operator benchmarks, fit every category's model and the glue jointly
    (:func:`hirisearch.latency.fit.fit_insitu`), and each family's operators in situ its factor per
    category (:func:`hirisearch.latency.fit.fit_family_categories`); the networks timed without
    hooks then fit a factor per category and one per family
    (:func:`hirisearch.latency.fit.fit_network_scales`).

    Args:
        threads: CPU thread count during the measurements (default: torch's current count).
        min_time_s: measuring time per micro-benchmark (the whole run takes about 1.5x this per
            benchmark).
        benches: default :func:`default_micro_benchmarks`.
        progress: called with ``(index, total, name)`` before each benchmark (the CLI's progress).
        clock: ``wall``, or ``cpu`` for process CPU time (see
            :func:`hirisearch.latency.timing.time_callable`; on a shared machine, with one thread).
        statistic: ``median`` of each benchmark's runs, or ``min`` (the least disturbed run).
    """
    if statistic not in ("median", "min"):
        raise CalibrationError(f"statistic must be 'median' or 'min', but got {statistic!r}")
    from hirisearch.latency.device import cpu_threads, cudnn_benchmark, device_name

    benches = list(benches if benches is not None else default_micro_benchmarks())
    samples: list[Sample] = []
    nets = [mb for mb in benches if mb.network]
    with cpu_threads(threads if device.type == "cpu" else None) as n, cudnn_benchmark(device):
        for i, mb in enumerate(benches):
            if mb.network:
                continue  # timed below, in rounds
            if progress is not None:
                progress(i, len(benches), mb.name)
            ms = bench_op(mb, device, batch, min_time_s, clock, statistic)
            samples.append(Sample(mb.name, single_op(mb), batch, ms))
        per_run, times = _time_networks(
            nets, device, batch, min_time_s, clock, statistic, progress, len(benches)
        )
    rows: list[NodeSample] = []
    families: list[str | None] = []
    for mb, runs in zip(nets, per_run, strict=True):
        got = samples_from_runs(mb.tree, runs, statistic=statistic, prefix=f"{mb.name}/")
        rows += got
        families += [mb.family] * len(got)
    # The typical build: the median over the rounds' instances (each round's time is already the
    # statistic of its runs).
    networks = [(mb, float(np.median(ts))) for mb, ts in zip(nets, times, strict=True)]
    coeffs = fit_insitu(rows, samples, batch) if rows else fit(samples)
    in_situ = [
        (f, Sample(r.path, r.ops[0], batch, r.ms))
        for f, r in zip(families, rows, strict=True)
        if len(r.ops) == 1
    ]
    cal = Calibration(
        device=device.type,
        device_name=device_name(device),
        torch_version=torch.__version__,
        threads=n,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        coeffs=coeffs,
        samples=tuple(samples + [s for _, s in in_situ]),
        networks=tuple((mb.name, ms) for mb, ms in networks),
        family_category_scales=fit_family_categories(in_situ, coeffs),
    )
    timed = [(mb.tree, ms, mb.family) for mb, ms in networks]
    scales, family_scales = fit_network_scales(timed, cal, batch)
    cal = replace(cal, scales=scales, family_scales=family_scales)
    return with_intervals(cal, timed, times, batch)


def _time_networks(
    nets: Sequence[MicroBench],
    device: torch.device,
    batch: int,
    min_time_s: float,
    clock: str,
    statistic: str,
    progress: Callable[[int, int, str], None] | None,
    total: int,
) -> tuple[list[list[dict[str, float]]], list[list[float]]]:
    """The in-situ module times (per run) and whole-network times (per round) of ``nets``.

    Whole networks run round-robin over NETWORK_ROUNDS rounds (a burst of other work on a shared
    machine then disturbs one round of a network, not all of them): in each round every module of
    a small network is timed in situ, then every network without hooks for as long as an
    operator's COPIES instances, since a network runs once per run.
    """
    # Built once for the in-situ timing (only the small networks have it).
    built = [
        (mb.make().eval().to(device), torch.randn(batch, *mb.input_shape, device=device))
        if mb.tree.total.macs <= INSITU_MAX_MACS
        else None
        for mb in nets
    ]
    per_run: list[list[dict[str, float]]] = [[] for _ in nets]
    times: list[list[float]] = [[] for _ in nets]
    for r in range(NETWORK_ROUNDS if nets else 0):
        for j, (mb, pair) in enumerate(zip(nets, built, strict=True)):
            if progress is not None:
                progress(total - len(nets) + j, total, f"{mb.name} ({r + 1})")
            if pair is not None:
                paths = [p for p, _ in mb.tree.walk()]
                per_run[j] += time_modules(*pair, paths, device, runs=INSITU_RUNS, clock=clock)
            # A fresh instance every round, and the median of the rounds: two builds of a large
            # network can run a third apart (memory placement), so the least of the rounds would
            # be the luckiest build and one instance a draw of one.
            t = min_time_s * COPIES / NETWORK_ROUNDS
            times[j].append(bench_op(mb, device, batch, t, clock, statistic))
    return per_run, times


#: A quick calibration times this many of each family's calibration networks (at the quantiles of
#: their MACs), over QUICK_ROUNDS rounds, a fresh build in each.
QUICK_PER_FAMILY = 2
QUICK_ROUNDS = 3


def quick_networks(per_family: int = QUICK_PER_FAMILY) -> list[MicroBench]:
    """``per_family`` calibration networks of every family: those at the ``1/(n+1) .. n/(n+1)``
    quantiles of the family's networks by MACs (neither the smallest nor the largest)."""
    from hirisearch.latency.networks import network_benchmarks

    by_family: dict[str | None, list[MicroBench]] = {}
    for mb in network_benchmarks():
        by_family.setdefault(mb.family, []).append(mb)
    out = []
    for nets in by_family.values():
        nets.sort(key=lambda mb: mb.tree.total.macs)
        picks = sorted({len(nets) * (i + 1) // (per_family + 1) for i in range(per_family)})
        out += [nets[min(i, len(nets) - 1)] for i in picks]
    return out


def calibrate_quick(
    device: torch.device,
    base: Calibration,
    *,
    base_name: str,
    threads: int | None = None,
    min_time_s: float = 0.3,
    networks: Sequence[MicroBench] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    clock: str = "wall",
) -> Calibration:
    """Adapt ``base`` to ``device`` from a dozen whole networks timed here
    (:func:`quick_networks`; :func:`hirisearch.latency.fit.adapt`): about a minute on one
    CPU thread instead of a full calibration's five. Its prediction intervals are its own, measured
    on those networks (:func:`hirisearch.latency.heldout.adapted_intervals`), not the base's.

    Args:
        base: the calibration adapted (another machine's, or an older one of this device).
        base_name: what ``base`` is (its file), recorded in the result's ``adapted_from``.
        min_time_s: measuring time per network and round.
        networks: default :func:`quick_networks`.
    """
    from hirisearch.latency.device import cpu_threads, cudnn_benchmark, device_name

    nets = list(networks if networks is not None else quick_networks())
    times: list[list[float]] = [[] for _ in nets]
    with cpu_threads(threads if device.type == "cpu" else None) as n, cudnn_benchmark(device):
        for r in range(QUICK_ROUNDS):
            for j, mb in enumerate(nets):
                if progress is not None:
                    progress(r * len(nets) + j, QUICK_ROUNDS * len(nets), f"{mb.name} ({r + 1})")
                times[j].append(bench_op(mb, device, 1, min_time_s, clock, "median"))
    measured = [(mb, float(np.median(ts))) for mb, ts in zip(nets, times, strict=True)]
    timed = [(mb.tree, ms, mb.family) for mb, ms in measured]
    return replace(
        adapt(timed, base),
        device=device.type,
        device_name=device_name(device),
        torch_version=torch.__version__,
        threads=n,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        networks=tuple((mb.name, ms) for mb, ms in measured),
        intervals=adapted_intervals(timed, base, times),
        adapted_from=f"{base_name} ({base.device_name}, {base.threads} thread(s), {base.created})",
    )
