"""Latency tables as pure functions of :class:`hirisearch.latency.BenchResult` and
:class:`hirisearch.latency.Calibration`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from hirisearch.latency.measure import BenchResult
from hirisearch.latency.predict import Calibration
from hirisearch.report import format as fmt


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


def bench_table(results: Sequence[BenchResult], *, predicted: bool = False) -> Table:
    """One row per model x resolution x batch."""
    t = Table(show_header=True)
    for name, justify in [
        ("model", "left"),
        ("res", "right"),
        ("batch", "right"),
        ("latency ms", "right"),
        ("IQR ms", "right"),
        ("p90 ms", "right"),
        ("img/s", "right"),
        ("GFLOPs", "right"),
        ("GFLOP/s", "right"),
        ("peak mem", "right"),
        ("est. mem", "right"),
    ]:
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    if predicted:
        t.add_column("predicted ms", justify="right")
    for r in results:
        if r.status != "ok":
            status = Text(r.status.upper(), style="bold red")
            row: list[str | Text] = [r.name, str(r.img_size), str(r.batch), status]
            row += ["-"] * 3 + [fmt.gmacs(r.macs), "-", "-", fmt.memory(r.mem_est_bytes)]
        else:
            iqr = Text(fmt.ms(r.iqr_ms), style="yellow" if r.noisy else "")
            row = [
                r.name,
                str(r.img_size),
                str(r.batch),
                fmt.ms(r.latency_ms),
                iqr,
                fmt.ms(r.p90_ms),
                fmt.rate(r.throughput),
                fmt.gmacs(r.macs),
                fmt.rate(r.gmacs_per_s),
                fmt.memory(r.peak_mem_bytes),
                fmt.memory(r.mem_est_bytes),
            ]
        if predicted:
            row.append(fmt.ms(r.predicted_ms))
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
                "peak mem: "
                + "; ".join(kinds)
                + " (first pass); est. mem: analytic params + input + activations",
            )
        )
    for r in results:
        for w in r.warnings:
            notes.append(("warning", f"{r.name} at {r.img_size}, batch {r.batch}: {w}"))
        if r.status == "oom":
            notes.append(
                ("warning", f"{r.name} at {r.img_size}, batch {r.batch}: out of memory ({r.error})")
            )
    return notes


def calibration_table(cal: Calibration) -> Table:
    """Fitted coefficients per category, as rates."""
    t = Table(
        title=f"latency calibration: {cal.device_name} ({cal.device}, {cal.threads} threads), "
        f"torch {cal.torch_version}",
        title_justify="left",
    )
    t.add_column("category")
    t.add_column("GMAC/s", justify="right")
    t.add_column("ns / element", justify="right")
    t.add_column("us / op", justify="right")
    t.add_column("in networks", justify="right")
    t.add_column("samples", justify="right")
    t.add_column("median |error|", justify="right")
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
