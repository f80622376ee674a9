"""Reports as pure functions of validated ``results.json`` documents, one builder per kind.

Tables are paper-ready: one header row that states the units (GFLOPs means GMACs, multiply-add
counted once, attention included, as :mod:`hirisearch.cost.convention` defines), numbers formatted
by :mod:`hirisearch.report.format`, baselines first. :func:`csv_rows` gives the same results as
raw numbers for spreadsheets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from hirisearch.cost.convention import CONVENTION, headline
from hirisearch.report import format as fmt
from hirisearch.report import plots
from hirisearch.report.document import Figure, Report, Section, Table

Doc = Mapping[str, Any]

__all__ = ["build_report", "csv_rows"]

GFLOPS = "GFLOPs (GMACs)"


def _meta(doc: Doc, *more: str) -> tuple[str, ...]:
    lines = [f"convention: {CONVENTION}; norms are reported separately", *more]
    if doc.get("command"):
        lines.append(f"command: {doc['command']}")
    if doc.get("created"):
        lines.append(f"created: {doc['created']}")
    return tuple(lines)


def baselines_first(items: Sequence[Doc], baselines: Sequence[str]) -> list[Doc]:
    """``items`` with those whose ``spec`` is a baseline first (in the baselines' order)."""
    rank = {b: i for i, b in enumerate(baselines)}
    return sorted(items, key=lambda it: rank.get(it["spec"], len(rank)))


def _label(item: Doc, baselines: Sequence[str]) -> str:
    return f"{item['name']} (baseline)" if item["spec"] in baselines else item["name"]


# ------------------------------------------------------------------- profile and compare
def _profile_report(doc: Doc) -> Report:
    base = doc.get("baselines", [])
    results = baselines_first(doc["results"], base)
    sizes = sorted({r["img_size"] for r in results})
    batches = sorted({r["batch"] for r in results})
    dtypes = sorted({r["dtype"] for r in results})
    one = len(sizes) == 1 and len(batches) == 1 and len(dtypes) == 1
    caption = headline(sizes[0], batches[0], dtypes[0]) if one else CONVENTION
    rows = []
    for r in results:
        cats = plots.categories_of(r)
        rows.append(
            (
                _label(r, base),
                r["family"],
                str(r["img_size"]),
                str(r["batch"]),
                fmt.params_in_m(r["params"]),
                fmt.gflops(r["macs"]),
                fmt.gflops(r.get("macs_traced")),
                fmt.signed_pct(r.get("agreement")),
                fmt.pct(cats.get("attn", 0) / r["macs"] if r["macs"] else None),
                fmt.gflops(r.get("norm")),
            )
        )
    summary = Table(
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
    stage_tables = []
    for r in results:
        stage_tables.append(
            Table(
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
        )
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
        rs = sorted(rs, key=lambda r: r["img_size"])
        if len({r["img_size"] for r in rs}) < 2:
            continue
        out.append(
            plots.ScalingSeries(
                rs[0]["name"],
                rs[0]["family"],
                tuple(r["img_size"] for r in rs),
                tuple(r["macs"] / 1e9 for r in rs),
                tuple(r["params"] / 1e6 for r in rs),
            )
        )
    return out


# ------------------------------------------------------------------------------- sweep
def _sweep_report(doc: Doc) -> Report:
    base = doc.get("baselines", [])
    series = baselines_first(doc["series"], base)
    sizes = sorted(set(doc["img_sizes"]) | {p["img_size"] for s in series for p in s["points"]})
    batch = doc["batch"]
    cost = {(s["spec"], p["img_size"]): p for s in series for p in s["points"]}
    gtable = Table(
        headers=("input (px)", *(f"{_label(s, base)} {GFLOPS}" for s in series)),
        rows=tuple(
            (
                str(size),
                *(
                    fmt.gflops(cost[(s["spec"], size)]["macs"])
                    if (s["spec"], size) in cost
                    else "-"
                    for s in series
                ),
            )
            for size in sizes
        ),
        align=("right",) * (len(series) + 1),
        caption=f"{CONVENTION}; batch {batch}, fp32; '-' = the model cannot take this input",
    )
    has_latency = any(p.get("latency_ms") is not None for s in series for p in s["points"])
    tables = [gtable]
    if has_latency:
        tables.append(
            Table(
                headers=("input (px)", *(f"{_label(s, base)} latency (ms)" for s in series)),
                rows=tuple(
                    (
                        str(size),
                        *(
                            fmt.ms(cost[(s["spec"], size)].get("latency_ms"))
                            if (s["spec"], size) in cost
                            else "-"
                            for s in series
                        ),
                    )
                    for size in sizes
                ),
                align=("right",) * (len(series) + 1),
                caption=f"median latency per batch of {batch}",
            )
        )
    prow = []
    notes = []
    for s in series:
        ps = sorted({p["params"] for p in s["points"]})
        span = (
            "-"
            if not ps
            else fmt.params_in_m(ps[0])
            if len(ps) == 1
            else f"{fmt.params_in_m(ps[0])}-{fmt.params_in_m(ps[-1])}"
        )
        pts = sorted(p["img_size"] for p in s["points"])
        prow.append(
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
            skipped = sorted(k["img_size"] for k in s["skipped"])
            listed = ", ".join(str(k) for k in skipped[:12]) + (" ..." if len(skipped) > 12 else "")
            notes.append(f"{s['name']}: skipped {listed}; {s['skipped'][0]['reason']}")
    tables.append(
        Table(
            headers=("model", "family", "cost", "params (M)", "inputs counted (px)", "skipped"),
            rows=tuple(prow),
            align=("left", "left", "left", "right", "right", "right"),
            caption="cost: analytic = closed form from the spec; traced = torch FlopCounterMode",
        )
    )
    scaling = plots.series_from_sweep({"series": series})
    sections = [Section("Resolution sweep", tables=tuple(tables))]
    if notes:
        sections.append(Section("Skipped resolutions", notes=tuple(notes)))
    if scaling:
        sections.insert(
            0,
            Section(
                "Plots",
                figures=(
                    Figure(
                        "scaling",
                        "GFLOPs (log scale, left) and parameters (right) against input resolution.",
                        partial(plots.resolution_scaling, scaling, batch=batch, with_params=True),
                    ),
                ),
            ),
        )
    names = ", ".join(s["name"] for s in series)
    title = doc.get("title") or f"Resolution sweep: {names}"
    return Report(
        title, _meta(doc, f"inputs {sizes[0]}-{sizes[-1]} px, batch {batch}"), tuple(sections)
    )


# ------------------------------------------------------------------------------- bench
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
                str(r["img_size"]),
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


# ------------------------------------------------------------------------------ search
def _search_report(doc: Doc) -> Report:
    trials = doc["trials"]
    objectives = [o["name"] for o in doc["objectives"]]
    axes = list(dict.fromkeys(k for t in trials for k in t.get("axes", {})))
    front = sorted((t for t in trials if t.get("pareto")), key=lambda t: t.get("macs") or 0)
    size = doc.get("img_size")
    at = f" at {size}x{size}" if size else ""
    obj_heads = tuple(
        f"{o['name']} ({'min' if o['direction'] == 'minimize' else 'max'})"
        for o in doc["objectives"]
    )
    rows = [
        (
            f"{b['name']} (baseline)",
            fmt.params_in_m(b["params"]),
            fmt.gflops(b["macs"]),
            *(fmt.value(b.get("objectives", {}).get(o)) for o in objectives),
            *("" for _ in axes),
        )
        for b in doc.get("baselines", [])
    ]
    rows += [
        (
            f"trial {t['number']}",
            fmt.params_in_m(t.get("params")),
            fmt.gflops(t.get("macs")),
            *(fmt.value(t["objectives"].get(o)) for o in objectives),
            *(fmt.value(t.get("axes", {}).get(a)) for a in axes),
        )
        for t in front
    ]
    pareto = Table(
        headers=("model", "params (M)", f"{GFLOPS}{at}", *obj_heads, *axes),
        rows=tuple(rows),
        align=("left", "right", "right", *["right"] * (len(objectives) + len(axes))),
        caption=f"baselines, then the Pareto front by GFLOPs; {CONVENTION}",
    )
    budgets = Table(
        headers=("budget", "limit"),
        rows=tuple((k, fmt.value(float(v))) for k, v in doc.get("budgets", {}).items()),
        align=("left", "right"),
        caption="trials above any limit are infeasible",
    )
    states: dict[str, int] = {}
    for t in trials:
        states[t["state"]] = states.get(t["state"], 0) + 1
    feasible = sum(1 for t in trials if t["feasible"])
    summary = (
        f"{len(trials)} trials ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); "
        f"{feasible} feasible; {len(front)} on the Pareto front"
    )
    sections = [Section("Summary", notes=(summary,), tables=(budgets,) if budgets.rows else ())]
    if any(t.get("macs") is not None for t in trials):
        sections.append(
            Section(
                "Plots",
                figures=(
                    Figure(
                        "search",
                        "All trials in the GFLOPs-objective plane: infeasible (x), feasible, the "
                        "Pareto front (red) and the baselines (stars).",
                        partial(plots.search_trials, doc),
                    ),
                ),
            )
        )
    sections.append(Section("Pareto front", tables=(pareto,)))
    return Report(
        doc.get("title") or f"Search: {doc['base_spec']}",
        _meta(doc, f"base spec: {doc['base_spec']}" + (f", input {size}x{size}" if size else "")),
        tuple(sections),
    )


BUILDERS: dict[str, Callable[[Doc], Report]] = {
    "profile": _profile_report,
    "compare": _profile_report,
    "sweep": _sweep_report,
    "bench": _bench_report,
    "search": _search_report,
}


def build_report(doc: Doc) -> Report:
    """The report of a validated results document (see :mod:`hirisearch.report.schema`)."""
    return BUILDERS[doc["kind"]](doc)


# --------------------------------------------------------------------------------- CSV
def csv_rows(doc: Doc) -> tuple[list[str], list[list[Any]]]:
    """A flat table of raw numbers (MACs and parameters as integers) for ``results.csv``."""
    kind = doc["kind"]
    if kind in ("profile", "compare"):
        head = [
            "spec",
            "name",
            "family",
            "img_size",
            "batch",
            "dtype",
            "params",
            "macs",
            "macs_analytic",
            "macs_traced",
            "norm",
            "conv",
            "linear",
            "attn",
            "other",
            "baseline",
        ]
        rows = []
        for r in baselines_first(doc["results"], doc.get("baselines", [])):
            cats = plots.categories_of(r)
            rows.append(
                [
                    r["spec"],
                    r["name"],
                    r["family"],
                    r["img_size"],
                    r["batch"],
                    r["dtype"],
                    r["params"],
                    r["macs"],
                    r.get("macs_analytic"),
                    r.get("macs_traced"),
                    r["norm"],
                    *(cats.get(c, 0) for c in ("conv", "linear", "attn", "other")),
                    r["spec"] in doc.get("baselines", []),
                ]
            )
        return head, rows
    if kind == "sweep":
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
            for p in sorted(s["points"], key=lambda p: p["img_size"]):
                rows.append(
                    [
                        s["spec"],
                        s["name"],
                        s["family"],
                        s["method"],
                        p["img_size"],
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
                        k["img_size"],
                        None,
                        None,
                        None,
                        k["reason"],
                    ]
                )
        return head, rows
    if kind == "bench":
        head = [
            "name",
            "spec",
            "img_size",
            "batch",
            "device",
            "dtype",
            "threads",
            "latency_ms",
            "iqr_ms",
            "p90_ms",
            "throughput",
            "macs",
            "gmacs_per_s",
            "peak_mem_bytes",
        ]
        recs = baselines_first(doc["records"], doc.get("baselines", []))
        return head, [[r.get(h) for h in head] for r in recs]
    objectives = [o["name"] for o in doc["objectives"]]
    axes = list(dict.fromkeys(k for t in doc["trials"] for k in t.get("axes", {})))
    head = [
        "number",
        "state",
        "feasible",
        "pareto",
        "params",
        "macs",
        *(f"objective:{o}" for o in objectives),
        *(f"axis:{a}" for a in axes),
    ]
    rows = [
        [
            t["number"],
            t["state"],
            t["feasible"],
            t.get("pareto", False),
            t.get("params"),
            t.get("macs"),
            *(t["objectives"].get(o) for o in objectives),
            *(
                fmt.value(t.get("axes", {}).get(a))
                if t.get("axes", {}).get(a) is not None
                else None
                for a in axes
            ),
        ]
        for t in doc["trials"]
    ]
    return head, rows
