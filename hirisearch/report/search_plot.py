"""The search report's figure: the front in the plane of its objectives (with more than two
objectives, one panel per pair), every other trial beside it, the base spec and the baselines
marked, and the budgets on those axes as dashed lines. A pure function of a ``search`` results
document (:mod:`hirisearch.report.run.search`)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hirisearch.models.resolution import size_dims
from hirisearch.report.plots import figures, save_figure
from hirisearch.report.search_words import quantity, shown, title

#: The second axis of a single objective.
CONTEXT = "gmacs"


def _value(item: Mapping[str, Any], name: str) -> float | None:
    """An item's (trial, base spec, baseline) value of objective ``name``, as the axis shows it."""
    v = item.get("objectives", {}).get(name)
    if v is None and name == CONTEXT and item.get("macs") is not None:
        v = item["macs"] / 1e9
    return shown(name, v)


def _axes(doc: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    names = [o["name"] for o in doc["objectives"]]
    directions = {o["name"]: o["direction"] for o in doc["objectives"]}
    if len(names) == 1:
        other = "params" if quantity(names[0]) == "macs" else CONTEXT
        names.append(other)
        directions[other] = ""
    return names, directions


def search_front(
    doc: Mapping[str, Any], path: str | Path, *, formats: Sequence[str] = ()
) -> list[Path]:
    """The front in the objective plane (see the module docstring)."""
    names, directions = _axes(doc)
    pairs = list(itertools.combinations(names, 2))
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = figures().subplots(rows, cols, figsize=(6.4 * cols, 4.8 * rows), squeeze=False)
    for ax, (x, y) in zip(axes.flat, pairs, strict=False):
        _panel(ax, doc, x, y, directions)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    size = doc.get("img_size")
    at = f" at {size_dims(size)}" if size else ""
    front = sum(1 for t in doc["trials"] if t.get("pareto"))
    fig.suptitle(
        f"Search over {doc['base_spec']}{at}: the front ({front} configurations) in the "
        "objectives' plane",
        fontsize=9,
    )
    fig.tight_layout()
    return save_figure(fig, path, formats=formats)


def _panel(ax: Any, doc: Mapping[str, Any], x: str, y: str, directions: dict[str, str]) -> None:
    def xy(items: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
        pts = [(_value(t, x), _value(t, y)) for t in items]
        kept = sorted((a, b) for a, b in pts if a is not None and b is not None)
        return [a for a, _ in kept], [b for _, b in kept]

    trials = doc["trials"]
    bad = xy([t for t in trials if not t["feasible"]])
    good = xy([t for t in trials if t["feasible"] and not t.get("pareto")])
    front = xy([t for t in trials if t.get("pareto")])
    if bad[0]:
        ax.scatter(*bad, marker="x", s=22, color="#b0b0b0", label=f"infeasible ({len(bad[0])})")
    if good[0]:
        ax.scatter(*good, s=18, color="#4c78a8", alpha=0.75, label=f"feasible ({len(good[0])})")
    if front[0]:
        if len(directions) == 2 or not directions.get(y):
            step = "steps-post" if directions[x] != "maximize" else "steps-pre"
            ax.plot(*front, drawstyle=step, color="#e45756", linewidth=1.2, zorder=3)
        ax.scatter(*front, s=40, color="#e45756", edgecolor="black", linewidth=0.5, zorder=4,
                   label=f"Pareto front ({len(front[0])})")  # fmt: skip
    base = (doc.get("run") or {}).get("base")
    if base:
        bx, by = _value(base, x), _value(base, y)
        if bx is not None and by is not None:
            where = "" if base.get("feasible") else ", outside the budgets"
            ax.scatter([bx], [by], marker="D", s=60, color="black", zorder=5,
                       label=f"base spec: {base.get('name')}{where}")  # fmt: skip
    for b in doc.get("baselines", []):
        bx, by = _value(b, x), _value(b, y)
        if bx is None or by is None:
            continue
        ax.scatter([bx], [by], marker="*", s=150, color="#f2b701", edgecolor="black",
                   linewidth=0.6, zorder=5)  # fmt: skip
        ax.annotate(b["name"], (bx, by), textcoords="offset points", xytext=(6, 5), fontsize=8)
    _budgets(ax, doc, x, y)
    for name, set_label in ((x, ax.set_xlabel), (y, ax.set_ylabel)):
        d = directions.get(name, "")
        better = {"minimize": " (lower is better)", "maximize": " (higher is better)"}.get(d, "")
        set_label(title(name) + better)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def _budgets(ax: Any, doc: Mapping[str, Any], x: str, y: str) -> None:
    """Each budget on the quantity of an axis, as a dashed line at its limit."""
    for key, limit in doc.get("budgets", {}).items():
        metric = key.split(" ")[0]
        for name, vertical in ((x, True), (y, False)):
            if quantity(metric) != quantity(name):
                continue
            at = shown(metric, limit)
            line = ax.axvline if vertical else ax.axhline
            line(at, color="black", linestyle="--", linewidth=0.8)
            bound = ">=" if key.endswith("(min)") else "<="
            where = dict(xy=(at, 1), xycoords=("data", "axes fraction"), xytext=(-4, -12))
            if not vertical:
                where = dict(xy=(1, at), xycoords=("axes fraction", "data"), xytext=(-4, 4))
            ax.annotate(f"budget {metric} {bound} {limit:g}", textcoords="offset points",
                        ha="right", fontsize=8, **where)  # fmt: skip
