"""Words of a search both the terminal and the run folder's report print: an exact run's method
and exact counts, and a configuration's changes from the base spec."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from hirisearch.ops.search.metrics import METRICS
from hirisearch.report import format as fmt

#: Lines of counts are wrapped at this width (a log's or a pipe's).
WIDTH = 80
#: Quantities shown scaled in tables and plots: (divide by, the title).
SCALED = {"params": (1e6, "params (M)"), "activations": (1e6, "activations (M)")}


def quantity(name: str) -> str:
    """The quantity a metric (or objective) name measures (``params_m``: ``params``)."""
    return METRICS[name].quantity if name in METRICS else name


#: What a metric's value is in units of its quantity (``params_m``: millions of params).
UNIT = {"params_m": 1e6, "activations_m": 1e6}


def title(name: str) -> str:
    """The title of an objective's axis or column, its unit in it."""
    q = quantity(name)
    if q in SCALED:
        return SCALED[q][1]
    return METRICS[q].title if q in METRICS else name


def shown(name: str, value: float | None) -> float | None:
    """An objective's value in the unit of its :func:`title`."""
    if value is None:
        return None
    return float(value) * UNIT.get(name, 1.0) / SCALED.get(quantity(name), (1.0, ""))[0]


def count(n: int | None) -> str:
    """A count, or why there is none."""
    return "not counted" if n is None else f"{n:,}"


def exact_lines(
    x: Mapping[str, Any], *, timed: bool = True, width: int | None = WIDTH
) -> list[str]:
    """An exact run's method (and, ``timed``, its time), then its exact counts: valid,
    feasible, invalid (by reason), outside the budgets (each bound), wrapped at ``width``
    (None: not wrapped); ``x``: ``SearchResult.exact``."""
    if x.get("method") == "sections":
        p = x["partial_fronts"]
        how = (
            f"section by section, {p['partial_sums']:,} partial sums kept in {p['fronts']:,} "
            "partial fronts"
        )
    else:
        how = "enumerated" + (f", {x.get('configs_per_s') or 0:,.0f} a second" if timed else "")
    when = f" in {x['seconds']:.2f} s" if timed else ""
    lines = [
        f"exact: {x['configurations']:,} configurations{when} ({how})",
        f"{x['valid']:,} valid, {count(x['feasible'])} feasible, {x['invalid']:,} invalid, "
        f"{count(x['outside_budget'])} outside the budgets",
    ]
    lines += [f"outside {label}: {count(n)}" for label, n in x["outside_by_bound"].items()]
    lines += [f"invalid ({n:,}): {reason}" for reason, n in x["invalid_by_reason"].items()]
    if x["feasible"] is None:
        lines.append(
            "(feasible configurations are counted by distinct partial sums; this space has too "
            "many to count)"
        )
    if width is None:
        return lines
    first = textwrap.fill(lines[0], width, subsequent_indent="      ")
    rest = [textwrap.fill(line, width, initial_indent="  ", subsequent_indent="      ")
            for line in lines[1:]]  # fmt: skip
    return [first, *rest]


def _get(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, Mapping):
            data = data.get(part)
        else:
            return None
    return data


def _shown(value: Any, changed: Any) -> str:
    """A value with its changed entries marked ``*`` (``changed``: True, or per entry)."""
    if isinstance(value, list):
        marks = changed if isinstance(changed, list) else [changed] * len(value)
        return "[" + ",".join(_shown(v, c) for v, c in zip(value, marks, strict=True)) + "]"
    return fmt.axis_value(value) + ("*" if changed is True else "")


def changed_fields(values: Mapping[str, Any], base_spec: Mapping[str, Any] | None) -> str:
    """The fields a configuration changes, each shown whole once, changed entries marked *:
    ``depths=[2,4*,5] mlp_ratios=[4,[3*,4,4],8]`` (``values``: changed axis path -> value)."""
    fields: dict[str, list[list[str]]] = {}
    for path in values:
        top, *rest = path.split(".")
        fields.setdefault(top, []).append(rest)
    parts = []
    for top, rests in fields.items():
        whole = (base_spec or {}).get(top)
        if not isinstance(whole, list) or any(not r for r in rests):
            paths = [".".join([top, *r]) for r in rests]
            parts += [f"{p}={fmt.axis_value(values[p])}" for p in paths]
            continue
        new, marks = _copy(whole), _copy(whole, False)
        for r in rests:
            if _get(whole, r[:-1]) is None or not isinstance(_get(new, r[:-1]), list):
                return " ".join(f"{p}={fmt.axis_value(v)}" for p, v in values.items())
            _get(new, r[:-1])[int(r[-1])] = values[".".join([top, *r])]
            _get(marks, r[:-1])[int(r[-1])] = True
        parts.append(f"{top}={_shown(new, marks)}")
    return " ".join(parts)


def _copy(value: Any, fill: Any = None) -> Any:
    if isinstance(value, list):
        return [_copy(v, fill) for v in value]
    return value if fill is None else fill
