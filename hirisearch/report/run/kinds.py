"""The registry of report kinds: one module per kind (its schema, report and CSV rows).

Adding a kind is one module of :mod:`hirisearch.report.run` with a ``KINDS`` tuple of
:class:`~hirisearch.report.run.base.ReportKind` records, named in :data:`MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from hirisearch.report.run.base import Doc, ReportKind
from hirisearch.report.run.document import Report

#: Each kind and the module of this package that defines it, in the order kinds are listed.
#: A module is imported when one of its kinds is first asked for (a profile run does not build
#: the search schema).
MODULES = {
    "profile": "profile",
    "compare": "profile",
    "sweep": "sweep",
    "bench": "bench",
    "search": "search",
}


class _Kinds(Mapping[str, ReportKind]):
    """Kind name -> :class:`ReportKind`, importing each defining module on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, ReportKind] = {}

    def __getitem__(self, name: str) -> ReportKind:
        if name not in self._loaded:
            module = importlib.import_module(f"hirisearch.report.run.{MODULES[name]}")
            for kind in module.KINDS:
                self._loaded[kind.name] = kind
            if name not in self._loaded:
                raise ValueError(f"report kind {name!r} is not defined by module {MODULES[name]!r}")
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)

    def __contains__(self, name: object) -> bool:
        return name in MODULES


KINDS: Mapping[str, ReportKind] = _Kinds()


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
