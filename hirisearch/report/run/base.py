"""What every report kind shares: the schema base, the schema of a result's documents, the header
lines, baselines first.

A report kind (``profile``, ``compare``, ``sweep``, ``bench``, ``search``) is one module of this
package holding its ``results.json`` schema (pydantic), its report builder (sections of tables and
figures) and its ``results.csv`` rows, registered in :data:`hirisearch.report.run.kinds.KINDS`.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from hirisearch.cost.convention import CONVENTION
from hirisearch.models.resolution import size_csv
from hirisearch.report.run.document import Report

Doc = Mapping[str, Any]
Count = Annotated[int, Field(ge=0)]
GFLOPS = "GFLOPs (GMACs)"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


def _field_type(classes: Sequence[type], name: str) -> Any:
    """The evaluated annotation of field ``name`` of the first of the dataclasses ``classes`` that
    has it. Evaluated alone, in its class's module, so that fields typed by names imported only
    for type checkers (``CrossCheck``, which needs torch) are not evaluated unless read."""
    for c in classes:
        for f in dataclasses.fields(c):
            if f.name == name:
                if not isinstance(f.type, str):
                    return f.type
                return eval(f.type, dict(vars(sys.modules[c.__module__])))  # as typing does
    raise KeyError(f"{', '.join(c.__name__ for c in classes)} has no field {name!r}")


def _required(t: Any) -> Any:
    """``t`` without ``None``: a required key holds a value."""
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(t) if a is not type(None)]
        return rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
    return t


def result_schema(
    *classes: type,
    required: Sequence[str],
    optional: Sequence[str] = (),
    nested: Mapping[str, Any] | None = None,
) -> type[BaseModel]:
    """The schema of the documents of a result (``dataclasses.asdict`` of ``classes``, merged):
    the keys a report reads, typed as the result's fields are, constraints included. A field the
    result no longer has fails here, at import, not in a report.

    Args:
        required: keys that must hold a value (``None`` is refused).
        optional: keys that may be missing or ``None``.
        nested: the schema of fields holding other results (``stages``: a list of them).
    """
    nested = nested or {}

    def typ(name: str) -> Any:
        t = _field_type(classes, name)  # the field exists, whatever schema it is given
        return nested.get(name, t)

    fields: dict[str, Any] = {n: (_required(typ(n)), ...) for n in required}
    fields |= {n: (typ(n) | None, None) for n in optional}
    return create_model(f"{classes[0].__name__}Doc", __base__=_Doc, **fields)


def check_columns(columns: Sequence[str], *classes: type) -> tuple[str, ...]:
    """``columns`` (a CSV header), each one a field of ``classes``; raises at import otherwise."""
    names = {f.name for c in classes for f in dataclasses.fields(c)}
    missing = [c for c in columns if c not in names]
    if missing:
        raise KeyError(f"CSV columns {missing} are not fields of {[c.__name__ for c in classes]}")
    return tuple(columns)


@dataclass(frozen=True)
class ReportKind:
    """One kind of results document: its schema, its report and its CSV rows."""

    name: str
    schema: type[BaseModel]
    build: Callable[[Doc], Report]
    csv_rows: Callable[[Doc], tuple[list[str], list[list[Any]]]]


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


def csv_cell(item: Doc, key: str) -> Any:
    """``item[key]`` as a CSV cell: an input size as ``448`` or ``800x1280``, the rest as is."""
    value = item.get(key)
    return size_csv(value) if key == "img_size" and value is not None else value


def _label(item: Doc, baselines: Sequence[str]) -> str:
    return f"{item['name']} (baseline)" if item["spec"] in baselines else item["name"]
