"""The ``search`` results: the space, every trial, the constrained Pareto front."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Literal

from pydantic import Field

from hirisearch.cost.convention import CONVENTION
from hirisearch.models.resolution import size_dims
from hirisearch.ops import ImgSize
from hirisearch.report import format as fmt
from hirisearch.report.run.base import (
    GFLOPS,
    Count,
    Doc,
    ReportKind,
    _Doc,
    _meta,
)
from hirisearch.report.run.document import Figure, Report, Section, Table
from hirisearch.report.search_plot import search_front
from hirisearch.report.search_words import (
    changed_fields,
    count,
    exact_lines,
    quantity,
    shown,
    title,
)


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
    img_size: ImgSize | None = None
    budgets: dict[str, float] = {}
    objectives: list[Objective] = Field(min_length=1)
    trials: list[Trial]
    baselines: list[SearchBaseline] = []


#: Quantities every row of the front table shows in their own column.
_SHOWN = ("params", "gmacs")


def _front_table(doc: Doc) -> Table:
    """The base spec, the baselines and the front: params, GFLOPs, the other objectives, and
    each configuration's changes from the base spec (whole fields, changed entries marked)."""
    run = doc.get("run") or {}
    base_spec = run.get("base_spec") or {}
    extra = [o for o in doc["objectives"] if quantity(o["name"]) not in _SHOWN]
    size = doc.get("img_size")
    at = f" at {size_dims(size)}" if size else ""

    def row(name: str, item: Mapping[str, Any], changes: str) -> tuple[str, ...]:
        objs = item.get("objectives") or {}
        return (name, fmt.params_in_m(item.get("params")), fmt.gflops(item.get("macs")),
                *(fmt.value(shown(o["name"], objs.get(o["name"]))) for o in extra),
                changes)  # fmt: skip

    rows = []
    if run.get("base"):
        b = run["base"]
        where = "" if b.get("feasible") else "; outside the budgets"
        rows.append(row(f"{b.get('name')} (base spec{where})", b, ""))
    rows += [row(f"{b['name']} (baseline)", b, "") for b in doc.get("baselines", [])]
    front = [t for t in doc["trials"] if t.get("pareto")]
    for t in sorted(front, key=lambda t: (t.get("macs") or 0, t["number"])):
        changed = {p: v for p, v in t.get("axes", {}).items() if _get(base_spec, p) != v}
        rows.append(row(f"trial {t['number']}", t, changed_fields(changed, base_spec) or "-"))
    heads = tuple(
        f"{title(o['name'])} ({'min' if o['direction'] == 'minimize' else 'max'})" for o in extra
    )
    return Table(
        headers=("model", "params (M)", f"{GFLOPS}{at}", *heads, "changes from the base spec"),
        rows=tuple(rows),
        align=("left", "right", "right", *["right"] * len(extra), "left"),
        caption=f"the base spec, baselines, then the Pareto front by GFLOPs; {CONVENTION}",
    )


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, Mapping):
            data = data.get(part)
        else:
            return None
    return data


def _exact_counts(x: Mapping[str, Any]) -> Table:
    """An exact run's counts: every configuration is one of valid or invalid (by reason), and a
    valid one is feasible or outside some budget."""
    rows = [("in the space", f"{x['configurations']:,}"), ("valid", f"{x['valid']:,}"),
            ("feasible", count(x["feasible"])),
            ("outside the budgets", count(x["outside_budget"]))]  # fmt: skip
    rows += [(f"outside {label}", count(n)) for label, n in x["outside_by_bound"].items()]
    rows.append(("invalid", f"{x['invalid']:,}"))
    rows += [(f"invalid: {reason}", f"{n:,}") for reason, n in x["invalid_by_reason"].items()]
    return Table(
        headers=("", "configurations"),
        rows=tuple(rows),
        align=("left", "right"),
        caption="exact counts ('not counted': too many distinct partial sums to count)",
    )


def _summary(doc: Doc) -> tuple[str, ...]:
    """How an exact run went; the trials' states of a trial run."""
    trials = doc["trials"]
    exact = (doc.get("run") or {}).get("exact")
    if exact is not None:
        front = sum(1 for t in trials if t.get("pareto"))
        return (
            exact_lines(exact, timed=False, width=None)[0],
            f"{front} configurations on the Pareto front",
        )
    states: dict[str, int] = {}
    for t in trials:
        states[t["state"]] = states.get(t["state"], 0) + 1
    feasible = sum(1 for t in trials if t["feasible"])
    front = sum(1 for t in trials if t.get("pareto"))
    return (
        f"{len(trials)} trials ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); "
        f"{feasible} feasible; {front} on the Pareto front",
    )


def _search_report(doc: Doc) -> Report:
    size = doc.get("img_size")
    budgets = Table(
        headers=("budget", "limit"),
        rows=tuple((k, fmt.value(float(v))) for k, v in doc.get("budgets", {}).items()),
        align=("left", "right"),
        caption="configurations above any limit are infeasible",
    )
    tables = (budgets,) if budgets.rows else ()
    exact = (doc.get("run") or {}).get("exact")
    if exact is not None:
        tables = (_exact_counts(exact), *tables)
    sections = [Section("Summary", notes=_summary(doc), tables=tables)]
    if any(t.get("objectives") for t in doc["trials"]):
        names = " and ".join(o["name"] for o in doc["objectives"])
        sections.append(
            Section(
                "Plots",
                figures=(
                    Figure(
                        "search",
                        f"The front in the plane of the objectives ({names}; a panel per pair "
                        "with more than two): the Pareto front (red), other feasible (blue) and "
                        "infeasible (x) trials, the base spec (black diamond), the baselines "
                        "(stars), budgets on these axes (dashed).",
                        partial(search_front, doc),
                    ),
                ),
            )
        )
    sections.append(Section("Pareto front", tables=(_front_table(doc),)))
    return Report(
        doc.get("title") or f"Search: {doc['base_spec']}",
        _meta(
            doc, f"base spec: {doc['base_spec']}" + (f", input {size_dims(size)}" if size else "")
        ),
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
