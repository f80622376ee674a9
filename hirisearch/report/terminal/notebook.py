"""Results in a notebook: what a command prints, as one object that Jupyter displays as HTML
(``_repr_html_``), Rich renders (``__rich__``) and ``str()`` gives as text.

``ProfileResult.table(depth=2)`` and ``CompareResult.table()`` return a :class:`View` of the same
tables the command line prints (:mod:`.profile`, :mod:`.compare`); results display through it in
Jupyter. Nothing here prints: rendering writes into a recording console.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.text import Text

from hirisearch.report.terminal.compare import compare_header, compare_table
from hirisearch.report.terminal.profile import profile_parts

if TYPE_CHECKING:
    from hirisearch.ops.compare import CompareResult
    from hirisearch.ops.profile import ProfileResult, SectionResult

#: The width a view is rendered at outside a terminal (a notebook cell holds about this much).
WIDTH = 110
_PRE = (
    "<pre style=\"font-family: Menlo, 'DejaVu Sans Mono', Consolas, monospace; "
    'line-height: 1.25; white-space: pre">{code}</pre>'
)


class View:
    """Renderables shown together: a header line and tables."""

    def __init__(self, parts: Sequence[RenderableType | str], width: int = WIDTH) -> None:
        self.parts = tuple(parts)
        self.width = width

    def __rich__(self) -> Group:
        return Group(*(Text(p) if isinstance(p, str) else p for p in self.parts))

    def _render(self, *, html: bool) -> str:
        console = Console(
            file=io.StringIO(), record=True, width=self.width, color_system="truecolor"
        )
        for part in self.parts:  # lines as the command prints them: long ones not wrapped
            console.print(part, soft_wrap=isinstance(part, str), markup=False)
        if html:
            return console.export_html(inline_styles=True, code_format=_PRE)
        return console.export_text()

    def _repr_html_(self) -> str:
        return self._render(html=True)

    def __str__(self) -> str:
        return self._render(html=False)

    def __repr__(self) -> str:
        return self._render(html=False).rstrip("\n")


def profile_view(r: ProfileResult, items: Sequence[SectionResult]) -> View:
    """A profile as ``hirisearch profile`` prints it (a task model's split and the training
    tables included), with the breakdown ``items``."""
    return View(profile_parts(r, items=items))


def compare_view(c: CompareResult) -> View:
    """A comparison as ``hirisearch compare`` prints it."""
    return View([compare_header(c), compare_table(c)])
