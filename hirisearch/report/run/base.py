"""What every report kind shares: the schema base, the header lines, baselines first.

A report kind (``profile``, ``compare``, ``sweep``, ``bench``, ``search``) is one module of this
package holding its ``results.json`` schema (pydantic), its report builder (sections of tables and
figures) and its ``results.csv`` rows, registered in :data:`hirisearch.report.run.KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hirisearch.cost.convention import CONVENTION
from hirisearch.report.run.document import Report

Doc = Mapping[str, Any]
Count = Annotated[int, Field(ge=0)]
GFLOPS = "GFLOPs (GMACs)"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


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


def _label(item: Doc, baselines: Sequence[str]) -> str:
    return f"{item['name']} (baseline)" if item["spec"] in baselines else item["name"]
