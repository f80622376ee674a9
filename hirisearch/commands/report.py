"""Run folders on the command line: the ``--out`` option every command shares, and ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hirisearch.commands.common import console


def report(
    folder: Annotated[Path, typer.Argument(help="A run folder holding results.json.")],
) -> None:
    """Regenerate results.csv, report.md, report.html and the plots from results.json."""
    from hirisearch.report.run.save import regenerate

    files = regenerate(folder)
    for p in (files.markdown, files.html, files.csv):
        if p is not None:
            console.print(str(p), markup=False, soft_wrap=True)
