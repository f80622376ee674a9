"""The ``profile`` and ``compare`` results: one profile document per model and size."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

from pydantic import Field

from hirisearch.cost.convention import CONVENTION, headline
from hirisearch.models.resolution import size_key, size_label, size_value
from hirisearch.ops.profile import ProfileResult, SectionResult
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

#: What the reports read of each stage (a :class:`SectionResult`).
StageDoc = result_schema(
    SectionResult, required=("name", "params", "macs"), optional=("path", "share", "out_shape")
)

#: What the reports read of each :meth:`ProfileResult.to_json` document.
ProfileDoc = result_schema(
    ProfileResult,
    required=(
        "spec", "family", "name", "img_size", "batch", "dtype", "convention", "params", "macs",
        "norm", "categories", "stages",
    ),
    optional=("macs_analytic", "macs_traced", "agreement", "categories_traced", "warnings"),
    nested={"stages": list[StageDoc]},  # type: ignore[valid-type]
)  # fmt: skip

#: ``results.csv``: these fields of every result, then its MACs per operator category.
CSV_COLUMNS = check_columns(
    (
        "spec", "name", "family", "img_size", "batch", "dtype", "params", "macs", "macs_analytic",
        "macs_traced", "norm",
    ),
    ProfileResult,
)  # fmt: skip
CATEGORIES = ("conv", "linear", "attn", "other")


class ProfileResults(_Doc):
    kind: Literal["profile", "compare"]
    results: list[ProfileDoc] = Field(min_length=1)  # type: ignore[valid-type]
    baselines: list[str] = []


def _summary(results: Sequence[Doc], base: Sequence[str], caption: str) -> Table:
    """One row per result: params, GFLOPs analytic and traced, agreement, attention, norms."""
    rows = []
    for r in results:
        cats = plots.categories_of(r)
        rows.append(
            (
                _label(r, base),
                r["family"],
                size_label(r["img_size"]),
                str(r["batch"]),
                fmt.params_in_m(r["params"]),
                fmt.gflops(r["macs"]),
                fmt.gflops(r.get("macs_traced")),
                fmt.signed_pct(r.get("agreement")),
                fmt.pct(cats.get("attn", 0) / r["macs"] if r["macs"] else None),
                fmt.gflops(r.get("norm")),
            )
        )
    return Table(
        headers=(
            "model",
            "family",
            "input (px)",
            "batch",
            "params (M)",
            f"{GFLOPS}, analytic",
            f"{GFLOPS}, traced",
            "traced vs analytic",
            "attention share",
            "norm ops (G, separate)",
        ),
        rows=tuple(rows),
        align=("left", "left", *["right"] * 8),
        caption=caption,
    )


def _stages(r: Doc) -> Table:
    """One result's parts: params, GFLOPs, share and output shape."""
    return Table(
        headers=("part", "params (M)", GFLOPS, "share of GFLOPs", "output (NxCxHxW)"),
        rows=tuple(
            (
                st["name"],
                fmt.params_in_m(st["params"]),
                fmt.gflops(st["macs"]),
                fmt.pct(st.get("share")),
                fmt.shape(st.get("out_shape")),
            )
            for st in r["stages"]
        ),
        align=("left", "right", "right", "right", "right"),
        caption=f"{r['name']}: {headline(r['img_size'], r['batch'], r['dtype'])}",
    )


def _profile_report(doc: Doc) -> Report:
    base = doc.get("baselines", [])
    results = baselines_first(doc["results"], base)
    sizes = sorted({size_value(r["img_size"]) for r in results}, key=size_key)
    batches = sorted({r["batch"] for r in results})
    dtypes = sorted({r["dtype"] for r in results})
    one = len(sizes) == 1 and len(batches) == 1 and len(dtypes) == 1
    caption = headline(sizes[0], batches[0], dtypes[0]) if one else CONVENTION
    summary = _summary(results, base, caption)
    stage_tables = [_stages(r) for r in results]
    figs: tuple[Figure, ...] = (
        Figure(
            "stages",
            "Per-stage GFLOPs (left) and parameters (right), stacked in model order.",
            partial(plots.stage_breakdown, results),
        ),
        Figure(
            "operators",
            "Share of the counted work per operator category (norm work counted separately).",
            partial(plots.operator_shares, results),
        ),
    )
    sections = [Section("Summary", tables=(summary,))]
    scaling = _scaling_from_profiles(results)
    if scaling:
        figs = (
            Figure(
                "scaling",
                "GFLOPs against input resolution (log scale).",
                partial(plots.resolution_scaling, scaling, batch=batches[0]),
            ),
            *figs,
        )
    sections += [Section("Plots", figures=figs), Section("Per stage", tables=tuple(stage_tables))]
    kind = "Comparison" if doc["kind"] == "compare" else "Profile"
    names = ", ".join(dict.fromkeys(r["name"] for r in results))
    warn = [w for r in results for w in r.get("warnings", [])]
    if warn:
        sections.insert(1, Section("Warnings", notes=tuple(dict.fromkeys(warn))))
    return Report(doc.get("title") or f"{kind}: {names}", _meta(doc), tuple(sections))


def _scaling_from_profiles(results: Sequence[Doc]) -> list[plots.ScalingSeries]:
    """One line per model profiled at two or more input sizes (same batch)."""
    by: dict[str, list[Doc]] = {}
    for r in results:
        by.setdefault(r["spec"], []).append(r)
    out = []
    for rs in by.values():
        rs = sorted(rs, key=lambda r: size_key(r["img_size"]))
        if len({size_value(r["img_size"]) for r in rs}) < 2:
            continue
        out.append(
            plots.ScalingSeries(
                rs[0]["name"],
                rs[0]["family"],
                tuple(size_value(r["img_size"]) for r in rs),
                tuple(r["macs"] / 1e9 for r in rs),
                tuple(r["params"] / 1e6 for r in rs),
            )
        )
    return out


def csv_rows(doc: Doc) -> tuple[list[str], list[list[Any]]]:
    """``results.csv``: raw numbers (MACs and parameters as integers)."""
    baselines = doc.get("baselines", [])
    rows = []
    for r in baselines_first(doc["results"], baselines):
        cats = plots.categories_of(r)
        rows.append(
            [
                *(csv_cell(r, c) for c in CSV_COLUMNS),
                *(cats.get(c, 0) for c in CATEGORIES),
                r["spec"] in baselines,
            ]
        )
    return [*CSV_COLUMNS, *CATEGORIES, "baseline"], rows


KINDS = (
    ReportKind("profile", ProfileResults, _profile_report, csv_rows),
    ReportKind("compare", ProfileResults, _profile_report, csv_rows),
)
