"""The registry of report kinds: one module per kind (its schema, report and CSV rows).

Adding a kind is one module here with a ``KINDS`` tuple of :class:`~.base.ReportKind` records,
named in :data:`MODULES`.
"""

from __future__ import annotations

import importlib

from hirisearch.report.kinds.base import Doc, ReportKind

#: The modules that define report kinds, in the order ``kind`` values are listed.
MODULES = ("profile", "sweep", "bench", "search")


def _collect() -> dict[str, ReportKind]:
    found: dict[str, ReportKind] = {}
    for name in MODULES:
        for kind in importlib.import_module(f"hirisearch.report.kinds.{name}").KINDS:
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


__all__ = ["KINDS", "Doc", "ReportKind", "get_kind"]
