"""Run folders: ``results.json`` (the source of truth) and everything derived from it.

::

    <out_dir>/results.json    the document (schema: hirisearch.report.run.schema)
    <out_dir>/results.csv     raw numbers, one row per result / point / record / trial
    <out_dir>/report.md       paper-ready Markdown tables, plots linked from plots/
    <out_dir>/report.html     self-contained: inline stylesheet, plots embedded as data URIs
    <out_dir>/plots/*.png     each plot also as .svg

:func:`save_run` writes the folder of a result (what an operation returns: its ``kind`` and
``run_document``); the commands and the API (:func:`hirisearch.save_run`) both call it.
:func:`write_run` writes one from a document (a producer of its own). Every file is written
atomically and the folder is held exclusively while it is written (:class:`hirisearch.io.RunDir`).
:func:`regenerate` rebuilds everything but ``results.json`` from ``results.json`` alone; it gives
byte-identical reports.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hirisearch.io import RunDir, atomic_write_json, atomic_write_text, json_default
from hirisearch.report.run.document import render_html, render_markdown
from hirisearch.report.run.kinds import build_report, csv_rows
from hirisearch.report.run.schema import SCHEMA, ResultsError, load_results, validate_results

if TYPE_CHECKING:
    from hirisearch.ops import Result

__all__ = ["RunFiles", "default_run_dir", "regenerate", "save_run", "write_run"]


@dataclass(frozen=True)
class RunFiles:
    """The files of a run folder."""

    dir: Path
    results: Path
    csv: Path
    markdown: Path
    html: Path | None  # None when the run was written without figures
    plots: tuple[Path, ...]


def default_run_dir(
    name: str, *, root: str | Path = "reports", now: datetime | None = None
) -> Path:
    """``reports/<UTC timestamp>-<name>/``, with ``-2``, ``-3``... when that folder exists."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-.")[:60] or "run"
    base = Path(root) / f"{stamp}-{slug}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def save_run(
    results: Result | Sequence[Result],
    folder: str | os.PathLike[str] | None = None,
    *,
    command: str | None = None,
    figures: bool = True,
) -> RunFiles:
    """Write the run folder of ``results`` (one result, or several of one kind: the profiles of
    one ``profile`` command, the measurements of one ``bench``).

    Args:
        folder: the run folder (default: a new ``reports/<timestamp>-<name>``, the name made
            from the results).
        command: the command line, recorded in ``results.json`` and shown in the reports.
        figures: draw the plots and ``report.html`` too (matplotlib: about 1 s).

    Raises:
        ResultsError: no results, results of several kinds, or a document not of the schema.
    """
    items = tuple(results) if isinstance(results, Sequence) else (results,)
    kinds = {type(r).kind for r in items}
    if len(kinds) != 1:
        raise ResultsError(
            f"a run folder holds results of one kind, but got {len(items)} results of "
            f"kinds {sorted(kinds)}"
        )
    cls = type(items[0])
    out = Path(folder) if folder is not None else default_run_dir(cls.run_name(items))
    return write_run(out, cls.kind, cls.run_document(items), command=command, figures=figures)


def write_run(
    out_dir: str | Path,
    kind: str,
    document: dict[str, Any],
    *,
    command: str | None = None,
    title: str | None = None,
    figures: bool = True,
) -> RunFiles:
    """Validate ``document`` as a results document of ``kind``, write it as ``results.json`` into
    ``out_dir`` and render the reports from it.

    Args:
        document: the fields of the kind (see :mod:`hirisearch.report.run.schema`); objects with a
            ``to_json()`` method (``ProfileResult``) are serialised with it.
        command: the command line, recorded in the document and shown in the reports.
        title: the reports' heading (default: one made from the kind and the model names).
        figures: draw the plots and ``report.html`` (matplotlib, about 1 s); without them the
            folder holds ``results.json``, ``results.csv`` and ``report.md``, and
            :func:`regenerate` adds the rest later.

    Raises:
        ResultsError: ``document`` is not of the documented schema.
    """
    if document.get("kind", kind) != kind:
        raise ResultsError(f"kind: write_run({kind!r}) got a document of kind {document['kind']!r}")
    doc: dict[str, Any] = {"schema": SCHEMA, "kind": kind}
    if title:
        doc["title"] = title
    doc["created"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if command:
        doc["command"] = command
    doc.update({k: v for k, v in document.items() if k not in ("schema", "kind")})
    # Round-trip through JSON so that the reports are made from exactly what results.json holds.
    doc = json.loads(json.dumps(doc, default=json_default))
    validate_results(doc, file=str(Path(out_dir) / "results.json"))
    with RunDir(out_dir) as run:
        atomic_write_json(run.path / "results.json", doc)
        return _render(run.path, doc, figures=figures)


def regenerate(out_dir: str | Path) -> RunFiles:
    """Rebuild ``results.csv``, ``report.md``, ``report.html`` and the plots from ``results.json``.

    Raises:
        ResultsError: ``results.json`` is missing, not JSON, or not of the documented schema.
    """
    doc = load_results(out_dir)
    with RunDir(out_dir) as run:
        return _render(run.path, doc)


def _render(folder: Path, doc: dict[str, Any], *, figures: bool = True) -> RunFiles:
    report = build_report(doc)
    plot_dir = folder / "plots"
    images: dict[str, bytes] = {}
    written: list[Path] = []
    for fig in report.figures if figures else ():
        if fig.draw is None:
            raise ValueError(f"figure {fig.stem!r} has nothing to draw")
        files = fig.draw(plot_dir / f"{fig.stem}.png", formats=("svg",))
        written += files
        images[fig.stem] = files[0].read_bytes()
    head, rows = csv_rows(doc)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    w.writerows(["" if v is None else v for v in row] for row in rows)
    csv_path = atomic_write_text(folder / "results.csv", buf.getvalue())
    md = atomic_write_text(folder / "report.md", render_markdown(report, figures=figures))
    page = (
        atomic_write_text(folder / "report.html", render_html(report, images)) if figures else None
    )
    return RunFiles(folder, folder / "results.json", csv_path, md, page, tuple(written))
