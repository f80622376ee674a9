"""What ``hirisearch sweep`` prints: the run folder's report tables (GFLOPs per size and model,
latency when timed, the models), as terminal tables, and a note per model that skipped sizes."""

from __future__ import annotations

from hirisearch.models.resolution import size_label
from hirisearch.ops.sweep import SweepResult
from hirisearch.report.run.document import Table
from hirisearch.report.run.kinds import build_report
from hirisearch.report.terminal.fit import Column, FitTable


def terminal_table(t: Table) -> FitTable:
    """A report table in the terminal: left-aligned columns are text, the others numbers."""
    columns = [
        Column(h, t.alignment(i), text=t.alignment(i) == "left") for i, h in enumerate(t.headers)
    ]
    out = FitTable(columns)
    for row in t.rows:
        out.add_row(*row)
    return out


def sweep_tables(result: SweepResult) -> list[str | FitTable]:
    """Every table of the sweep's report, in order, each after its caption (as in report.md)."""
    report = build_report(result.to_json())
    out: list[str | FitTable] = []
    for section in report.sections:
        for t in section.tables:
            out += [t.caption, terminal_table(t)] if t.caption else [terminal_table(t)]
    return out


def skipped_notes(result: SweepResult) -> list[str]:
    """One line per model that skipped sizes: which, and the first reason."""
    notes = []
    for s in result.series:
        if s.skipped:
            sizes = ", ".join(size_label(k.img_size) for k in s.skipped)
            notes.append(f"{s.name}: skipped {sizes}: {s.skipped[0].reason}")
    return notes
