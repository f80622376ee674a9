"""A report as data (sections of notes, tables and figures) and its Markdown and HTML renderings.

Both renderings are pure functions of a :class:`Report` and the bytes of its figures, so a report
regenerated from the same ``results.json`` is byte-identical.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Align = Literal["left", "right"]

__all__ = ["Figure", "Report", "Section", "Table", "render_html", "render_markdown"]


@dataclass(frozen=True)
class Table:
    """A table with ONE header row (units and convention stated in it) and pre-formatted cells."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] = ()  # "left" or "right" per column; missing columns are left
    caption: str = ""

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.headers):
                raise ValueError(
                    f"`len(row) == len(headers)` must hold, but got row {i} of {len(row)} "
                    f"cells for {len(self.headers)} headers"
                )

    def alignment(self, i: int) -> Align:
        return "right" if i < len(self.align) and self.align[i] == "right" else "left"


@dataclass(frozen=True)
class Figure:
    """A plot of the report: ``stem`` is the file name under ``plots/`` without suffix."""

    stem: str
    caption: str
    #: ``draw(path, formats=...) -> files``: the plot function bound to its data.
    draw: Callable[..., list[Path]] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Section:
    title: str
    notes: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Report:
    title: str
    lines: tuple[str, ...]
    sections: tuple[Section, ...] = field(default=())

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(f for s in self.sections for f in s.figures)


# -------------------------------------------------------------------------------- Markdown
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(t: Table) -> str:
    """A GitHub-flavoured Markdown table, right-aligned numbers, padded to line up in plain text."""
    cells = [[_md_cell(h) for h in t.headers], *([_md_cell(c) for c in r] for r in t.rows)]
    widths = [max(3, *(len(row[i]) for row in cells)) for i in range(len(t.headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if t.alignment(i) == "right" else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if t.alignment(i) == "right" else "-" * (w + 2)
            for i, w in enumerate(widths)
        )
        + "|"
    )
    out = [line(cells[0]), rule, *(line(r) for r in cells[1:])]
    if t.caption:
        out = [f"*{t.caption}*", "", *out]
    return "\n".join(out)


def render_markdown(report: Report, *, plots_dir: str = "plots", figures: bool = True) -> str:
    """The report as Markdown; ``figures=False`` leaves the plots out and says how to draw them."""
    out = [f"# {report.title}", ""]
    out += [f"- {line}" for line in report.lines]
    for s in report.sections:
        out += ["", f"## {s.title}", ""]
        for n in s.notes:
            out += [n, ""]
        for t in s.tables:
            out += [markdown_table(t), ""]
        for f in s.figures if figures else ():
            out += [
                f"![{f.caption}]({plots_dir}/{f.stem}.png)",
                "",
                f"*{f.caption}* ([SVG]({plots_dir}/{f.stem}.svg))",
                "",
            ]
    if not figures and report.figures:
        out += ["", "Plots and report.html were not drawn; `hirisearch report DIR` draws them."]
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------------------ HTML
_CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
  max-width: 1100px; margin: 2rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.6rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #eaeef2; padding-bottom: .2rem; }
ul.meta { color: #57606a; padding-left: 1.1rem; }
table { border-collapse: collapse; margin: .2rem 0 1.2rem; font-size: 13.5px;
  font-variant-numeric: tabular-nums; }
p.caption { font-style: italic; color: #57606a; margin: 1rem 0 .2rem; font-size: 13.5px; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; }
th { background: #f6f8fa; font-weight: 600; }
tr:nth-child(even) td { background: #fbfcfd; }
td.r, th.r { text-align: right; }
td:first-child { white-space: nowrap; }
.scroll { overflow-x: auto; }
figure { margin: 1rem 0 1.6rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 13px; margin-top: .3rem; }
p.note { color: #3d444d; }
""".strip()


def _html_table(t: Table) -> str:
    def cls(i: int) -> str:
        return ' class="r"' if t.alignment(i) == "right" else ""

    # The caption is a paragraph, not <caption>, which would wrap to the width of narrow tables.
    out = [f'<p class="caption">{html.escape(t.caption)}</p>'] if t.caption else []
    out.append('<div class="scroll"><table>')
    out.append(
        "<thead><tr>"
        + "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(t.headers))
        + "</tr></thead><tbody>"
    )
    for r in t.rows:
        out.append(
            "<tr>"
            + "".join(f"<td{cls(i)}>{html.escape(c)}</td>" for i, c in enumerate(r))
            + "</tr>"
        )
    out.append("</tbody></table></div>")
    return "\n".join(out)


def render_html(report: Report, images: Mapping[str, bytes]) -> str:
    """A self-contained HTML page: inline stylesheet, figures as base64 PNG data URIs.

    Args:
        images: PNG bytes per figure stem.
    """
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(report.title)}</title>",
        f"<style>\n{_CSS}\n</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        '<ul class="meta">' + "".join(f"<li>{e(line)}</li>" for line in report.lines) + "</ul>",
    ]
    for s in report.sections:
        out.append(f"<section><h2>{e(s.title)}</h2>")
        out += [f'<p class="note">{e(n)}</p>' for n in s.notes]
        out += [_html_table(t) for t in s.tables]
        for f in s.figures:
            data = base64.b64encode(images[f.stem]).decode("ascii")
            out.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{e(f.caption)}">'
                f"<figcaption>{e(f.caption)}</figcaption></figure>"
            )
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
