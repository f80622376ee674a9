"""What ``hirisearch sweep`` prints: the run folder's report tables (GFLOPs per size and model,
latency when timed, the models), as terminal tables, and a note per model that skipped sizes."""

from __future__ import annotations

from hirisearch.ops.sweep import SweepResult
from hirisearch.report.run.document import Table
from hirisearch.report.run.kinds import build_report
from hirisearch.report.terminal.fit import Column, FitTable


def terminal_table(t: Table) -> FitTable:
    """A report table in the terminal: left-aligned columns are text, the others numbers."""
    columns = [
        Column(h, t.alignment(i), text=t.alignment(i) == "left") for i, h in enumerate(t.headers)
    ]
    out = FitTable(columns, title=t.caption or None)  # the caption above, as in report.md
    for row in t.rows:
        out.add_row(*row)
    return out


def sweep_tables(result: SweepResult) -> list[FitTable]:
    """Every table of the sweep's report, in order."""
    report = build_report(result.to_json())
    return [terminal_table(t) for section in report.sections for t in section.tables]


def skipped_notes(result: SweepResult) -> list[str]:
    """One line per model that skipped sizes: which, and the first reason."""
    notes = []
    for s in result.series:
        if s.skipped:
            sizes = ", ".join(str(k.img_size) for k in s.skipped)
            notes.append(f"{s.name}: skipped {sizes}: {s.skipped[0].reason}")
    return notes
