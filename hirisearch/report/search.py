"""What ``hirisearch search`` shows in the terminal, as pure functions of
:class:`hirisearch.ops.search.results.SearchResult` and the dry run's document: the run's summary
lines, the Pareto table. (The run folder's report is :mod:`hirisearch.report.kinds.search`.)"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from hirisearch.ops.search.results import SearchResult
from hirisearch.report import format as fmt

#: Objectives that have a column of their own in the Pareto table.
_OWN_COLUMNS = ("params", "gmacs", "latency_ms")


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
) -> list[str | Table]:
    """The run's counts, then the Pareto table and where its specs are (or why there is none)."""
    out: list[str | Table] = []
    if result.exact is None:
        out.append(
            f"run {result.run_dir}: {result.complete + result.pruned} finished trials "
            f"({f'{result.pruned} pruned, ' if result.pruned else ''}"
            f"{result.failed} failed or interrupted), {result.feasible} feasible; study "
            f"{result.study!r} in {result.storage}"
        )
    else:
        x = result.exact
        out.append(
            f"exact: {x['configurations']:,} configurations in {x['seconds']:.2f} s "
            f"({x['configs_per_s'] or 0:,.0f} configurations/s swept): {x['feasible']:,} "
            f"feasible, {x['invalid']:,} invalid, {x['outside_budget']:,} outside the budgets"
        )
        out += [f"  outside {label}: {n:,}" for label, n in x["outside_by_bound"].items()]
        out += [f"  invalid ({n:,}): {reason}" for reason, n in x["invalid_by_reason"].items()]
    if result.pareto:
        specs = f"Pareto specs: {Path(result.run_dir) / 'pareto'}/"
        return [*out, pareto_table(result, baselines), specs]
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


def pareto_table(result: SearchResult, baselines: Sequence[dict[str, Any]] = ()) -> Table:
    """The base spec, the baselines, then the Pareto front, one row each."""
    names = [o["name"] for o in result.objectives if o["name"] not in _OWN_COLUMNS]
    t = Table(
        title=f"Pareto front: {len(result.pareto)} configurations "
        f"({result.feasible} feasible of {result.complete} trials)",
        title_justify="left",
    )
    t.add_column("trial", justify="right")
    t.add_column("changes from the base spec (* = changed)", overflow="fold")
    t.add_column("params", justify="right")
    t.add_column("GFLOPs", justify="right")
    lat = result.device is not None
    if lat:
        t.add_column(f"latency (ms, predicted, {result.device})", justify="right")
    for n in names:
        t.add_column(n, justify="right")
    for b in result.budgets:
        t.add_column(f"slack {b}", justify="right")
    t.add_column("traced", justify="center")
    if result.base:
        base = result.base
        row = ["base", f"{base['name']} (as shipped)"]
        row += [fmt.params_m(base["params"]), fmt.gmacs(base["macs"])]
        row += [fmt.objective(base.get("latency_ms"))] if lat else []
        row += [fmt.objective(base["objectives"].get(n)) for n in names]
        row += [f"{base['slack'].get(b, 0):+.3g}" for b in result.budgets]
        t.add_row(*row, "", style="dim")
    for other in baselines:
        row = ["baseline", f"{other['name']} ({other['spec']}, at {other['img_size']})"]
        row += [fmt.params_m(other["params"]), fmt.gmacs(other["macs"])]
        row += [""] if lat else []
        row += [fmt.objective(other["objectives"].get(n)) for n in names]
        row += ["" for _ in result.budgets]
        t.add_row(*row, "", style="cyan")
    for e in result.pareto:
        r = e.record
        changes = changed_fields(e.diff, base_spec=result.base_spec)
        row = [str(r.number), changes or "(base)", fmt.params_m(r.params), fmt.gmacs(r.macs)]
        row += [fmt.objective(r.latency_ms)] if lat else []
        row += [fmt.objective(r.objectives.get(n)) for n in names]
        row += [f"{r.slack.get(b, 0):+.3g}" for b in result.budgets]
        if e.traced is None:
            row.append("-")
        else:
            ok = e.traced.agrees and e.traced.within_budget
            row.append("ok" if ok else "MISMATCH" if not e.traced.agrees else "OVER BUDGET")
        t.add_row(*row)
    return t


def changed_fields(diff: dict[str, Any], *, base_spec: dict[str, Any] | None) -> str:
    """Changed fields, each shown whole once (``depths=[2,4,5,4,3]``); changed entries marked *."""
    fields: dict[str, list[str]] = {}
    for path in diff:
        top, _, rest = path.partition(".")
        fields.setdefault(top, []).append(rest)
    parts = []
    for top, idx in fields.items():
        value = (base_spec or {}).get(top)
        if isinstance(value, list) and all(i.isdigit() for i in idx):
            new = list(value)
            for i in idx:
                new[int(i)] = diff[f"{top}.{i}"][1]
            shown = ",".join(
                f"{fmt.axis_value(v)}*" if str(j) in idx else fmt.axis_value(v)
                for j, v in enumerate(new)
            )
            parts.append(f"{top}=[{shown}]")
        else:
            parts.extend(
                f"{top}{'.' + i if i else ''}={fmt.axis_value(diff[top + ('.' + i if i else '')][1])}"
                for i in idx
            )
    return " ".join(parts)
