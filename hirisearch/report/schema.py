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

- ``profile`` and ``compare``: ``results``: a list of :meth:`hirisearch.profile.ProfileResult.to_json`
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
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hirisearch.errors import HirisearchError

SCHEMA = "hirisearch.results/1"

__all__ = ["KINDS", "SCHEMA", "ResultsError", "load_results", "validate_results"]


class ResultsError(HirisearchError):
    """A ``results.json`` that is missing, not JSON, or not of the documented schema."""

    exit_code = 2


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


Count = Annotated[int, Field(ge=0)]


# ------------------------------------------------------------------ profile / compare
class StageDoc(_Doc):
    name: str
    path: str = ""
    params: Count
    macs: Count


class ProfileDoc(_Doc):
    """The keys of :meth:`ProfileResult.to_json` the reports read."""

    spec: str
    family: str
    name: str
    img_size: int = Field(gt=0)
    batch: int = Field(gt=0)
    dtype: str
    convention: str
    params: Count
    macs: Count
    macs_analytic: int | None = None
    macs_traced: int | None = None
    agreement: float | None = None
    norm: Count
    categories: dict[str, int]
    categories_traced: dict[str, int] | None = None
    stages: list[StageDoc]


class ProfileResults(_Doc):
    kind: Literal["profile", "compare"]
    results: list[ProfileDoc] = Field(min_length=1)
    baselines: list[str] = []


# ------------------------------------------------------------------------------ sweep
class SweepPoint(_Doc):
    img_size: int = Field(gt=0)
    params: Count
    macs: Count
    latency_ms: float | None = None


class SweepSkip(_Doc):
    img_size: int
    reason: str


class SweepSeries(_Doc):
    spec: str
    name: str
    family: str
    method: Literal["analytic", "traced"]
    points: list[SweepPoint]
    skipped: list[SweepSkip] = []


class SweepResults(_Doc):
    kind: Literal["sweep"]
    batch: int = Field(gt=0)
    img_sizes: list[int] = Field(min_length=1)
    series: list[SweepSeries] = Field(min_length=1)


# ------------------------------------------------------------------------------ bench
class BenchRecord(_Doc):
    name: str
    spec: str
    img_size: int = Field(gt=0)
    macs: int | None = Field(default=None, ge=0)
    latency_ms: float = Field(ge=0)
    iqr_ms: float = Field(ge=0)
    p90_ms: float = Field(ge=0)
    throughput: float = Field(ge=0)
    gmacs_per_s: float | None = Field(default=None, ge=0)
    peak_mem_bytes: int | None = Field(default=None, ge=0)
    device: str
    dtype: str
    batch: int = Field(gt=0)
    threads: int | None = None


class BenchResults(_Doc):
    kind: Literal["bench"]
    records: list[BenchRecord] = Field(min_length=1)


# ----------------------------------------------------------------------------- search
class Objective(_Doc):
    name: str
    direction: Literal["minimize", "maximize"]


class Trial(_Doc):
    number: int = Field(ge=0)
    state: str
    feasible: bool
    params: int | None = Field(default=None, ge=0)
    macs: int | None = Field(default=None, ge=0)
    objectives: dict[str, float | None]
    pareto: bool = False
    axes: dict[str, Any] = {}


class SearchBaseline(_Doc):
    name: str
    spec: str
    params: Count
    macs: Count
    objectives: dict[str, float | None] = {}


class SearchResults(_Doc):
    kind: Literal["search"]
    base_spec: str
    img_size: int | None = Field(default=None, gt=0)
    budgets: dict[str, float] = {}
    objectives: list[Objective] = Field(min_length=1)
    trials: list[Trial]
    baselines: list[SearchBaseline] = []


KINDS: dict[str, type[_Doc]] = {
    "profile": ProfileResults,
    "compare": ProfileResults,
    "sweep": SweepResults,
    "bench": BenchResults,
    "search": SearchResults,
}


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
