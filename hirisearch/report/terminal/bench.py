"""What ``hirisearch bench`` and ``hirisearch calibrate`` print: pure functions of
:class:`~hirisearch.latency.result.BenchResult` and :class:`~hirisearch.latency.predict.Calibration`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from hirisearch.latency.interval import DEFAULT_COVERAGE, FALLBACK_NOTE
from hirisearch.models.resolution import size_label
from hirisearch.report import format as fmt
from hirisearch.report.terminal.fit import Column, FitTable

if TYPE_CHECKING:
    from hirisearch.latency.interval import Intervals
    from hirisearch.latency.predict import Calibration
    from hirisearch.latency.result import BenchResult


def bench_header(results: Sequence[BenchResult]) -> str:
    """The environment line above a bench table (from the first result that has one)."""
    env = next((r.env for r in results if r.env is not None), None)
    if env is None:
        return "no measurements"
    flags = [
        f"channels_last {'on' if env.channels_last else 'off'}",
        f"compile {'on' if env.compile else 'off'}",
        f"fuse {'on' if env.fuse else 'off'}",
    ]
    threads = f", {env.threads} threads" if env.device == "cpu" else ""
    return (
        f"{env.device_name} ({env.device}{threads}), torch {env.torch_version}, {env.dtype}, "
        + ", ".join(flags)
        + "; latency per batch (median, IQR, p90); GFLOPs = GMACs, attention included"
    )


def bench_table(results: Sequence[BenchResult], *, predicted: bool = False) -> FitTable:
    """One row per model x resolution x batch (``predicted``: the prediction with its interval,
    the header naming the interval's coverage)."""
    heads = ["res", "batch", "latency ms", "IQR ms", "p90 ms", "img/s", "GFLOPs", "GFLOP/s"]
    coverage = next((r.predicted_coverage for r in results if r.predicted_coverage), None)
    pred_head = f"predicted ms ({coverage:.0%})" if coverage else "predicted ms"
    heads += ["peak MiB", "est. MiB"] + ([pred_head] if predicted else [])
    # Left out first when the width is short (with a prediction: the throughput too).
    secondary = ("p90 ms", "est. MiB") + (("img/s",) if predicted else ())
    t = FitTable(
        [
            Column("model", "left", text=True),
            *(Column(h, optional=h in secondary) for h in heads),
        ]
    )
    for r in results:
        if r.status != "ok":
            status = Text(r.status.upper(), style="bold red")
            row: list[str | Text] = [r.name, size_label(r.img_size), str(r.batch), status]
            row += ["-"] * 3 + [fmt.gmacs(r.macs), "-", "-", fmt.mib(r.mem_est_bytes)]
        else:
            iqr = Text(fmt.ms(r.iqr_ms), style="yellow" if r.noisy else "")
            row = [
                r.name,
                size_label(r.img_size),
                str(r.batch),
                fmt.ms(r.latency_ms),
                iqr,
                fmt.ms(r.p90_ms),
                fmt.rate(r.throughput),
                fmt.gmacs(r.macs),
                fmt.rate(r.gmacs_per_s),
                fmt.mib(r.peak_mem_bytes),
                fmt.mib(r.mem_est_bytes),
            ]
        if predicted:
            row.append(fmt.ms_interval(r.predicted_ms, r.predicted_interval_ms))
        t.add_row(*row)
    return t


def bench_notes(results: Sequence[BenchResult]) -> list[tuple[str, str]]:
    """``(level, text)`` lines under the table: ``note`` (what the memory columns mean) and
    ``warning`` (noisy measurements, out-of-memory batches)."""
    notes = []
    kinds = sorted({r.peak_mem_kind for r in results if r.peak_mem_kind})
    if kinds:
        notes.append(
            (
                "note",
                "peak MiB: "
                + "; ".join(kinds)
                + " (first pass); est. MiB: analytic params + input + activations",
            )
        )
    if any(r.predicted_interval_basis == "fallback" for r in results):
        notes.append(("warning", FALLBACK_NOTE))  # never a silent guess
    for r in results:
        for w in r.warnings:
            at = f"{r.name} at {size_label(r.img_size)}, batch {r.batch}"
            notes.append(("warning", f"{at}: {w}"))
        if r.status == "oom":
            notes.append(
                (
                    "warning",
                    f"{r.name} at {size_label(r.img_size)}, batch {r.batch}: out of memory ({r.error})",
                )
            )
    return notes


def interval_line(intervals: Intervals) -> str:
    """The 90% interval of each family's predictions, as factors of the prediction (held out)."""
    parts = []
    for f, m in sorted(intervals.families.items()):
        lo, hi = m.factors(DEFAULT_COVERAGE)
        parts.append(f"{f} x{lo:.2f}-{hi:.2f}")
    return f"{DEFAULT_COVERAGE:.0%} intervals (held-out networks): " + ", ".join(parts)


def calibration_table(cal: Calibration) -> FitTable:
    """Fitted coefficients per category, as rates."""
    heads = ("GMAC/s", "ns / element", "us / op", "in networks", "samples", "median |error|")
    t = FitTable(
        [Column("category", "left", text=True), *(Column(h) for h in heads)],
        title=f"latency calibration: {cal.device_name} ({cal.device}, {cal.threads} threads), "
        f"torch {cal.torch_version}",
    )
    for cat, (per_mac, per_elem, _per_param, per_op) in cal.coeffs.items():
        samples = [s for s in cal.samples if s.op.category == cat]
        # Relative to what the fit's error is relative to (a residual sample: its whole scale_ms).
        errors = sorted(
            abs(cal.isolated_ms(s.op, s.batch) - s.ms) / (s.scale_ms or s.ms)
            for s in samples
            if (s.scale_ms or s.ms) > 0
        )
        t.add_row(
            cat,
            fmt.rate(1 / per_mac / 1e6) if per_mac > 0 else "-",
            f"{per_elem * 1e6:.3f}",
            f"{per_op * 1e3:.1f}",
            f"x{cal.scales.get(cat, 1.0):.2f}",
            str(len(samples)),
            fmt.pct(errors[len(errors) // 2]) if errors else "-",
        )
    return t
