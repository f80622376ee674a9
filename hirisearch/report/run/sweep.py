"""The ``sweep`` results: params, MACs (and latency) of each model against input size."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

from pydantic import Field

from hirisearch.cost.convention import CONVENTION
from hirisearch.models.resolution import size_csv, size_key, size_label, size_value
from hirisearch.ops import ImgSize
from hirisearch.ops.sweep import SweepPoint, SweepSeries, SweepSkip
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
    result_schema,
)
from hirisearch.report.run.document import Figure, Report, Section, Table

#: What the reports read of a :class:`SweepResult` document and its parts.
SweepPointDoc = result_schema(
    SweepPoint,
    required=("img_size", "params", "macs"),
    optional=(
        "latency_ms",
        "train_macs",
        "train_peak_bytes",
        "predicted_ms",
        "predicted_interval_ms",
        "predicted_coverage",
    ),
)
SweepSkipDoc = result_schema(SweepSkip, required=("img_size", "reason"))
SweepSeriesDoc = result_schema(
    SweepSeries,
    required=("spec", "name", "family", "method", "points"),
    optional=("skipped",),
    nested={"points": list[SweepPointDoc], "skipped": list[SweepSkipDoc]},  # type: ignore[valid-type]
)


class SweepResults(_Doc):
    kind: Literal["sweep"]
    batch: int = Field(gt=0)
    img_sizes: list[ImgSize] = Field(min_length=1)
    series: list[SweepSeriesDoc] = Field(min_length=1)  # type: ignore[valid-type]


def _gflops(point: Doc) -> str:
    return fmt.gflops(point["macs"])


def _ms(point: Doc) -> str:
    return fmt.ms(point.get("latency_ms"))


def _predicted(point: Doc) -> str:
    return fmt.ms_interval(point.get("predicted_ms"), point.get("predicted_interval_ms"))


def _train_gflops(point: Doc) -> str:
    return fmt.gflops(point.get("train_macs"))


def _train_peak(point: Doc) -> str:
    return fmt.memory(point.get("train_peak_bytes"))


def _train_tables(doc: Doc, series: list[Doc], sizes: list[Any], base: list[str]) -> list[Table]:
    """With ``--train``: training GFLOPs and peak memory by size (``-``: no training twin)."""
    t = doc.get("train")
    if not t:
        return []
    step = f"batch {t['batch']}, {t['dtype']}, {t['optimizer']}, checkpointing {t['checkpoint']}"
    return [
        _by_size(series, sizes, base, "train GFLOPs", _train_gflops,
                 f"training step (forward + backward): {step}"),
        _by_size(series, sizes, base, "train peak", _train_peak,
                 "peak memory of a training step on one device (analytic); '-' also where a "
                 "model's layer forms have no training twin"),
    ]  # fmt: skip


def _by_size(
    series: list[Doc],
    sizes: list[Any],
    base: list[str],
    what: str,
    cell: Callable[[Doc], str],
    caption: str,
) -> Table:
    """Sizes down, one column per model: ``cell`` of its point at each size, ``-`` without."""
    point = {(s["spec"], size_value(p["img_size"])): p for s in series for p in s["points"]}
    return Table(
        headers=("input (px)", *(f"{_label(s, base)} {what}" for s in series)),
        rows=tuple(
            (
                size_label(size),
                *(
                    cell(point[(s["spec"], size)]) if (s["spec"], size) in point else "-"
                    for s in series
                ),
            )
            for size in sizes
        ),
        align=("right",) * (len(series) + 1),
        caption=caption,
    )


def _models(series: list[Doc], base: list[str]) -> tuple[Table, tuple[str, ...]]:
    """One row per model (its cost method, params span, sizes counted and skipped), and a note
    per model that skipped sizes."""
    rows, notes = [], []
    for s in series:
        ps = sorted({p["params"] for p in s["points"]})
        span = (
            "-"
            if not ps
            else fmt.params_in_m(ps[0])
            if len(ps) == 1
            else f"{fmt.params_in_m(ps[0])}-{fmt.params_in_m(ps[-1])}"
        )
        pts = [size_label(x) for x in sorted((p["img_size"] for p in s["points"]), key=size_key)]
        rows.append(
            (
                _label(s, base),
                s["family"],
                s["method"],
                span,
                f"{pts[0]}-{pts[-1]} ({len(pts)})" if pts else "none",
                str(len(s["skipped"])),
            )
        )
        if s["skipped"]:
            skipped = sorted((k["img_size"] for k in s["skipped"]), key=size_key)
            listed = ", ".join(size_label(k) for k in skipped[:12]) + (
                " ..." if len(skipped) > 12 else ""
            )
            notes.append(f"{s['name']}: skipped {listed}; {s['skipped'][0]['reason']}")
    table = Table(
        headers=("model", "family", "cost", "params (M)", "inputs counted (px)", "skipped"),
        rows=tuple(rows),
        align=("left", "left", "left", "right", "right", "right"),
        caption="cost: analytic = closed form from the spec; traced = torch FlopCounterMode",
    )
    return table, tuple(notes)


def _sweep_report(doc: Doc) -> Report:
    base = doc.get("baselines", [])
    series = baselines_first(doc["series"], base)
    given = [*doc["img_sizes"], *(p["img_size"] for s in series for p in s["points"])]
    sizes = sorted({size_value(x) for x in given}, key=size_key)
    batch = doc["batch"]
    caption = f"{CONVENTION}; batch {batch}, fp32; '-' = the model cannot take this input"
    tables = [_by_size(series, sizes, base, GFLOPS, _gflops, caption)]
    if any(p.get("latency_ms") is not None for s in series for p in s["points"]):
        caption = f"median latency per batch of {batch}"
        tables.append(_by_size(series, sizes, base, "latency (ms)", _ms, caption))
    coverage = next(
        (p["predicted_coverage"] for s in series for p in s["points"] if p.get("predicted_ms")),
        None,
    )
    if coverage is not None:
        caption = f"predicted latency per batch of {batch}, with its {coverage:.0%} interval"
        tables.append(_by_size(series, sizes, base, "predicted (ms)", _predicted, caption))
    tables += _train_tables(doc, series, sizes, base)
    models, notes = _models(series, base)
    tables.append(models)
    scaling = plots.series_from_sweep({"series": series})
    sections = [Section("Resolution sweep", tables=tuple(tables))]
    if notes:
        sections.append(Section("Skipped resolutions", notes=notes))
    if scaling:
        figure = Figure(
            "scaling",
            "GFLOPs (log scale, left) and parameters (right) against input resolution.",
            partial(plots.resolution_scaling, scaling, batch=batch, with_params=True),
        )
        figures = [figure]
        if doc.get("train"):
            figures.append(
                Figure(
                    "train_memory",
                    "Peak memory of a training step on one device (analytic) against input "
                    "resolution.",
                    partial(plots.train_memory_scaling, series, train=doc["train"]),
                )
            )
        sections.insert(0, Section("Plots", figures=tuple(figures)))
    names = ", ".join(s["name"] for s in series)
    title = doc.get("title") or f"Resolution sweep: {names}"
    return Report(
        title,
        _meta(doc, f"inputs {size_label(sizes[0])}-{size_label(sizes[-1])} px, batch {batch}"),
        tuple(sections),
    )


def csv_rows(doc: Doc) -> tuple[list[str], list[list[Any]]]:
    """``results.csv``: raw numbers (MACs and parameters as integers)."""
    head = [
        "spec",
        "name",
        "family",
        "method",
        "img_size",
        "params",
        "macs",
        "latency_ms",
        "skipped",
    ]
    rows = []
    for s in baselines_first(doc["series"], doc.get("baselines", [])):
        for p in sorted(s["points"], key=lambda p: size_key(p["img_size"])):
            rows.append(
                [
                    s["spec"],
                    s["name"],
                    s["family"],
                    s["method"],
                    size_csv(p["img_size"]),
                    p["params"],
                    p["macs"],
                    p.get("latency_ms"),
                    "",
                ]
            )
        for k in s["skipped"]:
            rows.append(
                [
                    s["spec"],
                    s["name"],
                    s["family"],
                    s["method"],
                    size_csv(k["img_size"]),
                    None,
                    None,
                    None,
                    k["reason"],
                ]
            )
    return head, rows


KINDS = (ReportKind("sweep", SweepResults, _sweep_report, csv_rows),)
