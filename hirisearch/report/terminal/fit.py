"""Tables that read well at any width, 80 columns included (the width Rich uses for a pipe or a
log), and use the width they are given.

A :class:`FitTable` is a Rich renderable that picks its layout when it is printed, knowing the
width: the boxed table with one-line headers when it fits; else headers wrapped at their spaces;
else no vertical rules and narrower gaps; else the same without the columns marked optional (named
under the table); narrower than any of them, each row becomes a block of ``header value`` items. Numbers never wrap and are never cut: a number column is as wide as its
longest value or header word. Text columns (model names, notes, module paths) wrap to what is
left, breaking long words if they must. Nothing is cut to an ellipsis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

Cell = str | Text
#: A text column is wrapped (long words broken) down to this many cells before the layout tightens.
TEXT_MIN = 12
Justify = Literal["left", "right", "center"]

__all__ = ["Column", "FitTable"]


@dataclass(frozen=True)
class Column:
    """A column: ``text`` columns wrap; the others hold numbers or short words, never wrapped."""

    header: str
    justify: Justify = "right"
    text: bool = False
    #: Left out (and named under the table) when the width holds no table with it.
    optional: bool = False


@dataclass(frozen=True)
class _Layout:
    box: box.Box | None
    wrap_headers: bool
    padding: tuple[int, int]
    collapse: bool = False
    edge: bool = True


#: From the roomiest to the tightest: the first that fits with every word whole is used; else the
#: first that fits with long words broken to :data:`TEXT_MIN` cells.
_LAYOUTS = (
    _Layout(box.HEAVY_HEAD, wrap_headers=False, padding=(0, 1)),
    _Layout(box.HEAVY_HEAD, wrap_headers=True, padding=(0, 1)),
    _Layout(box.SIMPLE_HEAD, wrap_headers=True, padding=(0, 1), edge=False),
    _Layout(box.SIMPLE_HEAD, wrap_headers=True, padding=(0, 1), collapse=True, edge=False),
    _Layout(box.SIMPLE_HEAD, wrap_headers=True, padding=(0, 0), edge=False),
)


def _width(cell: Cell) -> int:
    text = cell.plain if isinstance(cell, Text) else cell
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _longest_word(cell: Cell) -> int:
    text = cell.plain if isinstance(cell, Text) else cell
    return max((cell_len(w) for w in text.split()), default=0)


def _wrap(header: str, width: int) -> str:
    """``header`` broken at its spaces into lines of at most ``width`` cells (words kept whole)."""
    lines: list[str] = []
    for word in header.split():
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


@dataclass
class FitTable:
    """A table whose layout is chosen for the width it is printed at (see the module)."""

    columns: Sequence[Column]
    title: str | None = None
    caption: str | None = None
    show_header: bool = True
    rows: list[tuple[list[Cell], str | None]] = field(default_factory=list)

    def add_row(self, *cells: Cell, style: str | None = None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(
                f"`len(cells) == len(columns)` must hold, but got {len(cells)} cells for "
                f"{len(self.columns)} columns"
            )
        self.rows.append((list(cells), style))

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def table(
        self,
        layout: _Layout,
        *,
        measure: bool = False,
        text_cap: int | None = None,
        drop_optional: bool = False,
    ) -> Table:
        """The Rich table in ``layout``, its text columns free to wrap; with ``measure``, as
        narrow as the layout can be: text columns as wide as their longest word (at most
        ``text_cap``). ``drop_optional``: without the optional columns, named in the caption."""
        shown = [i for i, c in enumerate(self.columns) if not (drop_optional and c.optional)]
        left_out = [c.header for i, c in enumerate(self.columns) if i not in shown]
        caption = self.caption
        if left_out:
            note = f"left out at this width: {', '.join(left_out)}"
            caption = f"{caption}\n{note}" if caption else note
        t = Table(
            title=self.title,
            caption=caption,
            title_justify="left",
            caption_justify="left",
            show_header=self.show_header,
            box=layout.box,
            padding=layout.padding,
            collapse_padding=layout.collapse,
            show_edge=layout.edge,
            pad_edge=layout.edge,
        )
        for i in shown:
            col = self.columns[i]
            cells = [row[i] for row, _ in self.rows]
            if col.text and measure:
                word = max(_longest_word(c) for c in [*cells, col.header])
                t.add_column(col.header, width=min(word, text_cap or word))
                continue
            if col.text:
                t.add_column(col.header, justify=col.justify, overflow="fold")
                continue
            longest_word = max((cell_len(w) for w in col.header.split()), default=0)
            values = max((_width(c) for c in cells), default=0)
            width = max(values, longest_word if layout.wrap_headers else cell_len(col.header))
            header = _wrap(col.header, width) if layout.wrap_headers else col.header
            t.add_column(header, justify=col.justify, no_wrap=True, width=width)
        for row, style in self.rows:
            t.add_row(*(row[i] for i in shown), style=style)
        return t

    def _choose(self, console: Console, options: ConsoleOptions) -> Table | None:
        width = options.max_width
        wide = options.update_width(10**6)
        drops = (False, True) if any(c.optional for c in self.columns) else (False,)
        for drop in drops:  # every column; else without the optional ones
            for cap in (None, TEXT_MIN):  # words whole; else long words broken
                for layout in _LAYOUTS:
                    t = self.table(layout, measure=True, text_cap=cap, drop_optional=drop)
                    if Measurement.get(console, wide, t).maximum <= width:
                        return self.table(layout, drop_optional=drop)
        return None

    def stacked(self) -> Group:
        """The last resort, narrower than any table: each row as its text cells, then its other
        cells as ``header value`` items in as many columns as the width holds."""
        from rich.columns import Columns  # the last resort only

        parts: list[RenderableType] = []
        if self.title:
            parts.append(Text(self.title))
        for row, style in self.rows:
            head = [c for c, col in zip(row, self.columns, strict=True) if col.text]
            items = [
                Text.assemble(f"{col.header} ", c)
                for c, col in zip(row, self.columns, strict=True)
                if not col.text
            ]
            if head:
                parts.append(Text(" ").join(Text(c) if isinstance(c, str) else c for c in head))
            parts.append(Padding(Columns(items, padding=(0, 2)), (0, 0, 0, 2), style=style or ""))
        if self.caption:
            parts.append(Text(self.caption))
        return Group(*parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = self._choose(console, options)
        yield t if t is not None else self.stacked()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        t = self._choose(console, options)
        return Measurement.get(console, options, t if t is not None else self.stacked())
