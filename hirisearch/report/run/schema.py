"""The ``results.json`` schema: the source of truth of every run folder.

A run folder holds ``results.json`` and what is derived from it alone (``results.csv``,
``report.md``, ``report.html``, ``plots/``). Every ``results.json`` is one JSON object::

    {
      "schema": "hirisearch.results/1",     # this module's SCHEMA, checked on read
      "kind": "profile" | "compare" | "sweep" | "bench" | "search",
      "title": "...",                        # optional, the report's heading
      "created": "2026-11-22T03:52:21Z",     # optional, UTC, set by write_run
      "command": "hirisearch profile ...",   # optional, the command line that made it
      ... the fields of the kind, below ...
    }

Counts are raw integers (``params``, ``macs``: multiply-accumulates for the whole batch under
:data:`hirisearch.cost.convention.CONVENTION`); scaled units only appear in the reports.

Kinds (each is a pydantic model below; unknown extra keys are kept, so producers may add fields):

- ``profile`` and ``compare``: ``results``: a list of :meth:`hirisearch.ops.profile.ProfileResult.to_json`
  documents; ``baselines`` (optional): the ``spec`` refs that are baselines, listed first in tables.
- ``sweep``: ``batch``, ``img_sizes`` (requested), ``series``: one per model with ``spec``, ``name``,
  ``family``, ``method`` (``"analytic"`` or ``"traced"``), ``points`` (``img_size``, ``params``,
  ``macs``, optional ``latency_ms``) and ``skipped`` (``img_size``, ``reason``).
- ``bench``: ``records``: one per model and setting with ``name``, ``spec``, ``img_size``, ``macs``,
  ``latency_ms`` (median), ``iqr_ms``, ``p90_ms``, ``throughput`` (images/s), ``gmacs_per_s``
  (achieved), ``peak_mem_bytes`` (null where not measurable), ``device``, ``dtype``, ``batch``,
  ``threads``.
- ``search``: ``base_spec``, ``budgets`` (name -> limit, e.g. ``{"gmacs": 5.0}``), ``objectives``
  (``name``, ``direction`` ``"minimize"|"maximize"``), ``trials`` (``number``, ``state``,
  ``feasible``, ``params``, ``macs``, ``objectives`` name -> value or null, ``pareto``, ``axes``:
  the search-space axis values of the trial) and ``baselines`` (``name``, ``spec``, ``params``,
  ``macs``, ``objectives``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hirisearch.errors import ResultsError
from hirisearch.report.run.kinds import KINDS as REPORT_KINDS

SCHEMA = "hirisearch.results/1"

__all__ = ["KINDS", "SCHEMA", "ResultsError", "load_results", "validate_results"]


class _Schemas(Mapping[str, type[BaseModel]]):
    """Kind -> the pydantic schema of its documents (each kind's module defines it, imported on
    first use)."""

    def __getitem__(self, name: str) -> type[BaseModel]:
        return REPORT_KINDS[name].schema

    def __iter__(self) -> Iterator[str]:
        return iter(REPORT_KINDS)

    def __len__(self) -> int:
        return len(REPORT_KINDS)

    def __contains__(self, name: object) -> bool:
        return name in REPORT_KINDS


KINDS: Mapping[str, type[BaseModel]] = _Schemas()


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_results(doc: Any, *, file: str = "results.json") -> dict[str, Any]:
    """Check ``doc`` against the schema of its kind and return it unchanged.

    Raises:
        ResultsError: one line naming the file, the field path and what was expected.
    """
    if not isinstance(doc, dict):
        raise ResultsError(f"{file}: expected a JSON object, but got {type(doc).__name__}")
    if doc.get("schema", SCHEMA) != SCHEMA:
        raise ResultsError(f"{file}: schema: expected {SCHEMA!r}, but got {doc.get('schema')!r}")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise ResultsError(f"{file}: kind: expected one of {', '.join(KINDS)}, but got {kind!r}")
    try:
        KINDS[kind].model_validate(doc)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        first = errors[0]
        msg = "required field is missing" if first["type"] == "missing" else first["msg"]
        if first["type"] != "missing" and "input" in first:
            got = repr(first["input"])
            msg += f", but got {got if len(got) <= 60 else got[:57] + '...'}"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ResultsError(f"{file}: {kind}: {_loc(tuple(first['loc']))}: {msg}{more}") from None
    return doc


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a ``results.json`` (a file, or a run folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{p}: file not found (not a hirisearch run folder?)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"{p}: cannot read: {e}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(
            f"{p}: not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    return validate_results(doc, file=str(p))
