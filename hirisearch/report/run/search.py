"""The ``search`` results: the space, every trial, the constrained Pareto front."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from pydantic import Field

from hirisearch.cost.convention import CONVENTION
from hirisearch.report import format as fmt
from hirisearch.report import plots
from hirisearch.report.run.base import (
    GFLOPS,
    Count,
    Doc,
    ReportKind,
    _Doc,
    _meta,
)
from hirisearch.report.run.document import Figure, Report, Section, Table


class Objective(_Doc):
    name: str
    direction: Literal["minimize", "maximize"]


class Trial(_Doc):
    number: int = Field(ge=0)
    state: str
    feasible: bool
    params: int | None = Field(default=None, ge=0)
    macs: int | None = Field(default=None, ge=0)
    objectives: dict[str, float | None]
    pareto: bool = False
    axes: dict[str, Any] = {}


class SearchBaseline(_Doc):
    name: str
    spec: str
    params: Count
    macs: Count
    objectives: dict[str, float | None] = {}


class SearchResults(_Doc):
    kind: Literal["search"]
    base_spec: str
    img_size: int | None = Field(default=None, gt=0)
    budgets: dict[str, float] = {}
    objectives: list[Objective] = Field(min_length=1)
    trials: list[Trial]
    baselines: list[SearchBaseline] = []


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


def csv_rows(doc: Doc) -> tuple[list[str], list[list[Any]]]:
    """``results.csv``: raw numbers (MACs and parameters as integers)."""
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


KINDS = (ReportKind("search", SearchResults, _search_report, csv_rows),)
