"""Run folders on the command line: the ``--out`` option every command shares, and ``report``."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from hirisearch.cli import command, console, err_console

Out = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Run folder for results.json, results.csv, report.md, report.html and plots/ "
        "(default: reports/<timestamp>-<name>/).",
    ),
]
#: ``profile`` draws plots and report.html only when asked (matplotlib costs about 1 s).
DrawReport = Annotated[
    bool, typer.Option("--report", help="Also draw the plots and report.html in the run folder.")
]
#: compare, sweep, bench and search draw by default; ``--no-report`` skips the plots and HTML.
NoReport = Annotated[
    bool, typer.Option("--no-report", help="Skip the plots and report.html (faster).")
]


def command_line(ctx: typer.Context) -> str:
    """The invocation, reconstructed from the parsed parameters (defaults left out)."""
    parts = ["hirisearch", ctx.info_name or ""]
    for p in ctx.command.params:
        value = ctx.params.get(p.name or "")
        if value is None or value == p.default or value == () or value == []:
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if p.param_type_name == "argument":
            parts += [str(v) for v in values]
        elif isinstance(value, bool):
            parts.append(p.opts[0])
        else:
            for v in values:
                parts += [p.opts[0], str(v)]
    return shlex.join(p for p in parts if p)


def save_run(
    ctx: typer.Context,
    kind: str,
    document: dict[str, Any],
    *,
    out: Path | None,
    name: str,
    quiet_stdout: bool = False,
    figures: bool = True,
) -> Path:
    """Write the run folder of a command and print its path (on stderr when stdout carries JSON).

    Args:
        name: the default folder's suffix (``reports/<timestamp>-<name>``).
        quiet_stdout: stdout is reserved for JSON documents.
        figures: draw the plots and report.html too (matplotlib: about 1 s).
    """
    from hirisearch.report.writers import default_run_dir, write_run

    folder = out if out is not None else default_run_dir(name)
    files = write_run(folder, kind, document, command=command_line(ctx), figures=figures)
    if quiet_stdout:
        err_console.print(f"hirisearch: run folder: {files.dir}", markup=False)
    else:
        console.print(f"run folder: {files.dir}", markup=False, soft_wrap=True)
    return files.dir


@command()
def report(
    folder: Annotated[Path, typer.Argument(help="A run folder holding results.json.")],
) -> None:
    """Regenerate results.csv, report.md, report.html and the plots from results.json."""
    from hirisearch.report.writers import regenerate

    files = regenerate(folder)
    for p in (files.markdown, files.html, files.csv):
        if p is not None:
            console.print(str(p), markup=False, soft_wrap=True)
