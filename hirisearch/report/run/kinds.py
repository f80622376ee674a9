"""The registry of report kinds: one module per kind (its schema, report and CSV rows).

Adding a kind is one module of :mod:`hirisearch.report.run` with a ``KINDS`` tuple of
:class:`~hirisearch.report.run.base.ReportKind` records, named in :data:`MODULES`.
"""

from __future__ import annotations

import importlib
from typing import Any

from hirisearch.report.run.base import Doc, ReportKind
from hirisearch.report.run.document import Report

#: The modules that define report kinds, in the order ``kind`` values are listed.
MODULES = ("profile", "sweep", "bench", "search")


def _collect() -> dict[str, ReportKind]:
    found: dict[str, ReportKind] = {}
    for name in MODULES:
        for kind in importlib.import_module(f"hirisearch.report.run.{name}").KINDS:
            if kind.name in found:
                raise ValueError(f"report kind {kind.name!r} is defined twice")
            found[kind.name] = kind
    return found


KINDS: dict[str, ReportKind] = _collect()


def get_kind(name: str) -> ReportKind:
    """The report kind ``name``; a miss lists the valid kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown report kind {name!r}; valid: {', '.join(KINDS)}") from None


def build_report(doc: Doc) -> Report:
    """The report of a validated results document (see :mod:`.schema`)."""
    return KINDS[doc["kind"]].build(doc)


def csv_rows(doc: Doc) -> tuple[list[str], list[list[Any]]]:
    """A flat table of raw numbers (MACs and parameters as integers) for ``results.csv``."""
    return KINDS[doc["kind"]].csv_rows(doc)


__all__ = ["KINDS", "MODULES", "Doc", "ReportKind", "build_report", "csv_rows", "get_kind"]
