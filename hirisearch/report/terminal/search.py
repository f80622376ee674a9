"""What ``hirisearch search`` shows in the terminal, as pure functions of
:class:`hirisearch.ops.search.results.SearchResult` and the dry run's document: the run's summary
lines, the Pareto table. (The run folder's report is :mod:`hirisearch.report.run.search`.)

The Pareto table has one column per quantity (:mod:`hirisearch.ops.search.metrics`: a budget on
``params_m`` and the objective ``params`` share the params column), its budgets under its title.
It is laid out for the width it is given (80 columns in a pipe or a log), and no cell wraps
inside a word (:func:`pareto_table`).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.table import Table
from rich.text import Text

from hirisearch.models.resolution import size_label
from hirisearch.ops.search.metrics import METRICS
from hirisearch.ops.search.results import SearchResult
from hirisearch.report import format as fmt
from hirisearch.report.search_words import changed_fields, exact_lines


def dry_run_lines(doc: dict[str, Any]) -> list[str]:
    """The space's size and its two corners (``doc``: :func:`hirisearch.ops.search.launch.dry_run`)."""
    size = "infinite (continuous axes)" if doc["size"] == float("inf") else f"{int(doc['size']):,}"
    lines = [f"{doc['space']}: {doc['axes']} axes, {size} configurations"]
    corners = (
        ("cheapest corner", doc["cheapest"]),
        ("most expensive corner", doc["most_expensive"]),
    )
    for label, c in corners:
        what = (
            f"{fmt.params_m(c['params'])} params, {fmt.gmacs(c['macs'])} GFLOPs"
            if c["valid"]
            else f"invalid: {c['error']}"
        )
        values = ", ".join(f"{k}={fmt.axis_value(v)}" for k, v in c["values"].items())
        lines.append(f"  {label}: {what}  ({values})")
    return lines


def search_summary(
    result: SearchResult, baselines: Sequence[dict[str, Any]] = ()
) -> list[str | RenderableType]:
    """The run's counts, then the Pareto table and where its specs are (or why there is none)."""
    out: list[str | RenderableType] = []
    if result.exact is None:
        out.append(
            f"run {result.run_dir}: {result.complete + result.pruned} finished trials "
            f"({f'{result.pruned} pruned, ' if result.pruned else ''}"
            f"{result.failed} failed or interrupted), {result.feasible} feasible; study "
            f"{result.study!r} in {result.storage}"
        )
    else:
        out += exact_lines(result.exact)
    if result.pareto:
        specs = f"Pareto specs: {Path(result.run_dir) / 'pareto'}/"
        return [*out, ParetoTable(result, tuple(baselines)), specs]
    c = result.cheapest or {}
    if c.get("values") is None:
        return [*out, "no feasible configuration, and no valid configuration in the space"]
    values = ", ".join(f"{k}={fmt.axis_value(v)}" for k, v in c["values"].items())
    return [
        *out,
        f"no feasible configuration within {', '.join(result.budgets)}; the cheapest "
        f"configuration in the space ({c['how']}) costs {fmt.params_m(c['params'])} params, "
        f"{fmt.gmacs(c['macs'])} GFLOPs: {values}",
    ]


@dataclass(frozen=True)
class ParetoTable:
    """The Pareto table, laid out when Rich renders it, for the width it is given."""

    result: SearchResult
    baselines: Sequence[dict[str, Any]] = ()

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        yield pareto_table(self.result, self.baselines, width=options.max_width)


@dataclass(frozen=True)
class _Row:
    trial: str
    changes: tuple[str, str]  # whole lists (``depths=[2,4*,5]``), or the changed axes only
    totals: Mapping[str, Any]  # params, macs, acts, latency_ms; None where not known
    objectives: Mapping[str, float | None]
    slack: Mapping[str, float] = field(default_factory=dict)
    traced: str = ""
    style: str = ""


@dataclass(frozen=True)
class _Column:
    title: str
    bounds: tuple[str, ...]  # shown under the title
    cell: Callable[[_Row], str]


#: The analytic totals every row has: quantity -> (the row's total, how it is shown).
_TOTALS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "params": ("params", fmt.params_in_m),
    "gmacs": ("macs", fmt.gmacs),
    "activations": ("acts", fmt.params_in_m),
    "latency_ms": ("latency_ms", lambda v: fmt.ms_interval(*v) if v else "-"),
    "latency_upper_ms": ("latency_upper_ms", fmt.objective),
}
#: The totals an objective's value stands in for where a row lacks them (the base's).
_COUNTS = ("params", "macs", "acts")
_BOUND = re.compile(r"^(?P<metric>.+?)(?P<op><=|>=)(?P<limit>.+)$")
#: The padding and the rule between columns of a Rich table with the default box.
_GAP = 3


def pareto_table(
    result: SearchResult, baselines: Sequence[dict[str, Any]] = (), *, width: int = 80
) -> RenderableType:
    """The base spec, the baselines, then the Pareto front, one row each, laid out for ``width``
    columns: headers on one line, else word by word; the changes as whole lists, else as the
    changed axes; else listed under the table, one line per row (a cell never wraps inside a
    word)."""
    rows = _rows(result, baselines)
    columns = _columns(result)
    cells = [[c.cell(r) for r in rows] for c in columns]
    trial = max(len("trial"), *(len(r.trial) for r in rows))
    traced = max(len("traced"), *(len(r.traced) for r in rows))
    fixed = 0
    for one_line, form in ((True, 0), (False, 0), (False, 1), (False, 2)):
        heads = [_header(c, col, one_line) for c, col in zip(columns, cells, strict=True)]
        fixed = trial + traced + sum(_width(h, col) for h, col in zip(heads, cells, strict=True))
        if form == 2:
            break
        longest = max(len(w) for r in rows for w in r.changes[form].split())
        if fixed + longest + _GAP * (len(columns) + 3) + 1 <= width:
            break
    t = Table(title=_title(result), title_justify="left", caption=_caption(result))
    t.add_column("trial", justify="right", no_wrap=True)
    if form < 2:
        t.add_column("changes (* = changed)" if form == 0 else "changed axes", overflow="fold")
    for head in heads:
        t.add_column(head, justify="right", no_wrap=True)
    t.add_column("traced", justify="center", no_wrap=True)
    for k, r in enumerate(rows):
        changes = [r.changes[form]] if form < 2 else []
        t.add_row(r.trial, *changes, *(col[k] for col in cells), r.traced, style=r.style)
    if form < 2:
        return t
    listed = Text("changes from the base spec (* = changed):", overflow="fold")
    for r in rows:
        listed.append(f"\n{r.trial}: {r.changes[0]}", style=r.style)
    return Group(t, listed, fit=False)


def _title(result: SearchResult) -> str:
    of = "configurations" if result.exact is not None else "trials"
    feasible = "uncounted" if result.feasible is None else f"{result.feasible:,}"
    return (
        f"Pareto front: {len(result.pareto)} configurations ({feasible} feasible of "
        f"{result.complete:,} {of})"
    )


def _caption(result: SearchResult) -> str | None:
    if result.device is None:
        return None
    cover = result.predicted_coverage
    span = f", with its {cover:.0%} interval" if cover is not None else ""
    return f"latency predicted for {result.device}{span}"


def _header(column: _Column, cells: list[str], one_line: bool) -> str:
    """The title on one line, or word by word, with the budgets beneath."""
    widest = max(len(x) for x in [*cells, *column.bounds, *column.title.split()])
    lines = [column.title] if one_line else textwrap.wrap(column.title, widest)
    return "\n".join([*lines, *column.bounds])


def _width(header: str, cells: list[str]) -> int:
    return max(len(x) for x in [*header.splitlines(), *cells])


def _rows(result: SearchResult, baselines: Sequence[dict[str, Any]]) -> list[_Row]:
    rows = []
    if result.base:
        b = result.base
        outside = [label for label, s in b["slack"].items() if s < 0]
        note = f"; outside {', '.join(outside)}" if outside else ""
        what = f"{b['name']} (as shipped{note})"
        totals = {"params": b["params"], "macs": b["macs"]}
        totals |= _latency(b.get("latency_ms"), b.get("predicted_interval_ms"))
        rows.append(_Row("base", (what, what), totals, b["objectives"], b["slack"], style="dim"))
    for o in baselines:
        what = f"{o['name']} at {size_label(o['img_size'])}"
        totals = {"params": o["params"], "macs": o["macs"]}
        rows.append(_Row("baseline", (what, what), totals, o["objectives"], style="cyan"))
    for e in result.pareto:
        r = e.record
        new = {p: v for p, (_, v) in e.diff.items()}
        wide = changed_fields(new, result.base_spec) or "(base)"
        compact = " ".join(f"{p}={fmt.axis_value(new)}" for p, (_, new) in e.diff.items())
        totals = {"params": r.params, "macs": r.macs, "acts": r.acts}
        totals |= _latency(r.latency_ms, r.predicted_interval_ms)
        rows.append(
            _Row(str(r.number), (wide, compact or "(base)"), totals, r.objectives, r.slack,
                 _traced(e.traced))
        )  # fmt: skip
    return rows


def _latency(ms: float | None, span: Any) -> dict[str, Any]:
    """A row's latency totals: the prediction with its interval, and the interval's upper end."""
    if ms is None:
        return {}
    return {"latency_ms": (ms, span), "latency_upper_ms": span[1] if span else None}


def _traced(check: Any) -> str:
    if check is None:
        return "-"
    if check.agrees and check.within_budget:
        return "ok"
    return "MISMATCH" if not check.agrees else "OVER BUDGET"


def _columns(result: SearchResult) -> list[_Column]:
    """One column per quantity: params, GFLOPs, the predicted latency, each other objective,
    each budget's metric; a budget sits under its quantity's title."""
    bounds = [m.groupdict() | {"label": m.string} for m in map(_BOUND.match, result.budgets) if m]
    names = ["params", "gmacs", *(["latency_ms"] if result.device is not None else [])]
    names += [o["name"] for o in result.objectives] + [b["metric"] for b in bounds]
    objectives = {o["name"] for o in result.objectives}
    out: list[_Column] = []
    seen: set[str] = set()
    for name in names:
        quantity = METRICS[name].quantity if name in METRICS else name
        if quantity in seen:
            continue
        seen.add(quantity)
        views = [m for m in METRICS.values() if m.quantity == quantity and m.name != quantity]
        shown = views[0] if views else METRICS.get(quantity)  # params in M, not as a count
        title = shown.title if shown is not None else name.partition(":")[2] or name
        mine = [b for b in bounds if _quantity(b["metric"]) == quantity]
        under = tuple(
            f"{b['op']} {b['limit']}" if shown and b["metric"] == shown.name else b["label"]
            for b in mine
        )
        if quantity in _TOTALS:
            out.append(_Column(title, under, _total_cell(quantity)))
        elif name in objectives:
            out.append(_Column(title, under, partial(_objective_cell, name=name)))
        else:  # a budget on a number the rows do not carry: its slack
            out += [
                _Column("slack", (b["label"],), partial(_slack, label=b["label"])) for b in mine
            ]
    return out


def _quantity(name: str) -> str:
    return METRICS[name].quantity if name in METRICS else name


def _total_cell(quantity: str) -> Callable[[_Row], str]:
    key, show = _TOTALS[quantity]

    def cell(row: _Row) -> str:
        value = row.totals.get(key)
        if value is None and row.objectives.get(quantity) is not None and key in _COUNTS:
            value = int(row.objectives[quantity] or 0)  # e.g. the base's activations objective
        return show(value)

    return cell


def _objective_cell(row: _Row, name: str) -> str:
    return fmt.objective(row.objectives.get(name))


def _slack(row: _Row, label: str) -> str:
    return f"{row.slack[label]:+.3g}" if label in row.slack else "-"
