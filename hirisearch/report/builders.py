"""Reports as pure functions of validated ``results.json`` documents, one builder per kind
(:mod:`hirisearch.report.kinds`).

Tables are paper-ready: one header row that states the units (GFLOPs means GMACs, multiply-add
counted once, attention included, as :mod:`hirisearch.cost.convention` defines), numbers formatted
by :mod:`hirisearch.report.format`, baselines first. :func:`csv_rows` gives the same results as
raw numbers for spreadsheets.
"""

from __future__ import annotations

from typing import Any

from hirisearch.report.document import Report
from hirisearch.report.kinds import KINDS, Doc
from hirisearch.report.kinds.base import baselines_first

__all__ = ["baselines_first", "build_report", "csv_rows"]


def build_report(doc: Doc) -> Report:
    """The report of a validated results document (see :mod:`hirisearch.report.schema`)."""
    return KINDS[doc["kind"]].build(doc)


def csv_rows(doc: Doc) -> tuple[list[str], list[list[Any]]]:
    """A flat table of raw numbers (MACs and parameters as integers) for ``results.csv``."""
    return KINDS[doc["kind"]].csv_rows(doc)
