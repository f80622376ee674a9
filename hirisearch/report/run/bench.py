"""The ``bench`` results: measured latency, throughput and memory per model, size and batch."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from pydantic import Field

from hirisearch.cost.convention import CONVENTION
from hirisearch.latency.result import BenchResult, Environment
from hirisearch.models.resolution import size_label
from hirisearch.report import format as fmt
from hirisearch.report import plots
from hirisearch.report.run.base import (
    GFLOPS,
    Doc,
    ReportKind,
    _Doc,
    _label,
    _meta,
    baselines_first,
    check_columns,
    csv_cell,
    result_schema,
)
from hirisearch.report.run.document import Figure, Report, Section, Table

#: What the reports read of each record (:meth:`BenchResult.to_json`, the environment's fields
#: at the top level).
BenchRecord = result_schema(
    BenchResult,
    Environment,
    required=(
        "name", "spec", "img_size", "latency_ms", "iqr_ms", "p90_ms", "throughput", "device",
        "dtype", "batch",
    ),
    optional=("macs", "gmacs_per_s", "peak_mem_bytes", "threads"),
)  # fmt: skip

#: ``results.csv``: these fields of every record.
CSV_COLUMNS = check_columns(
    (
        "name", "spec", "img_size", "batch", "device", "dtype", "threads", "latency_ms", "iqr_ms",
        "p90_ms", "throughput", "macs", "gmacs_per_s", "peak_mem_bytes",
    ),
    BenchResult,
    Environment,
)  # fmt: skip


class BenchResults(_Doc):
    kind: Literal["bench"]
    records: list[BenchRecord] = Field(min_length=1)  # type: ignore[valid-type]


def _bench_report(doc: Doc) -> Report:
    base = doc.get("baselines", [])
    recs = baselines_first(doc["records"], base)
    table = Table(
        headers=(
            "model",
            "input (px)",
            "batch",
            "device",
            "dtype",
            "threads",
            "latency (ms, median)",
            "IQR (ms)",
            "p90 (ms)",
            "throughput (img/s)",
            GFLOPS,
            "achieved GMACs/s",
            "peak memory (MiB)",
        ),
        rows=tuple(
            (
                _label(r, base),
                size_label(r["img_size"]),
                str(r["batch"]),
                r["device"],
                r["dtype"],
                "-" if r.get("threads") is None else str(r["threads"]),
                fmt.ms(r["latency_ms"]),
                fmt.ms(r["iqr_ms"]),
                fmt.ms(r["p90_ms"]),
                fmt.rate(r["throughput"]),
                fmt.gflops(r.get("macs")),
                fmt.rate(r.get("gmacs_per_s")),
                fmt.mib(r.get("peak_mem_bytes")),
            )
            for r in recs
        ),
        align=("left", "right", "right", "left", "left", *["right"] * 8),
        caption=f"latency per batch; GFLOPs per batch, {CONVENTION}",
    )
    sections = [Section("Latency", tables=(table,))]
    if any(r.get("macs") is not None for r in recs):
        sections.append(
            Section(
                "Plots",
                figures=(
                    Figure(
                        "latency",
                        "Median latency against GFLOPs (IQR bars), labelled with achieved GMACs/s.",
                        partial(plots.latency_vs_gmacs, recs),
                    ),
                ),
            )
        )
    names = ", ".join(dict.fromkeys(r["name"] for r in recs))
    return Report(doc.get("title") or f"Latency: {names}", _meta(doc), tuple(sections))


def csv_rows(doc: Doc) -> tuple[list[str], list[list[Any]]]:
    """``results.csv``: raw numbers (MACs and parameters as integers)."""
    recs = baselines_first(doc["records"], doc.get("baselines", []))
    return list(CSV_COLUMNS), [[csv_cell(r, h) for h in CSV_COLUMNS] for r in recs]


KINDS = (ReportKind("bench", BenchResults, _bench_report, csv_rows),)
