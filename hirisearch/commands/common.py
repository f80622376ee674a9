"""What the commands share: the consoles, the shared options (one spelling and type each), JSON
output, and the run folder every command writes. Commands import from here, never from
:mod:`hirisearch.cli`, which registers them.

A command parses its options, calls an operation (:mod:`hirisearch.ops`), prints through
:mod:`hirisearch.report.terminal` and saves its run folder with :func:`save_run_folder`. It returns
``None``, or the exit status it ends with (:data:`EXIT_INTERRUPTED` once it has saved what an
interrupt left); :mod:`hirisearch.cli` turns that and every error into the exit code.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hirisearch import interrupt
from hirisearch.errors import HirisearchError
from hirisearch.io import json_default

console = Console(highlight=False)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_INTERRUPTED = interrupt.EXIT_INTERRUPTED


def error_line(message: str) -> str:
    return "hirisearch: error: " + " ".join(str(message).split())


def split_refs_and_sizes(
    args: Sequence[str], sizes: Sequence[int] | None
) -> tuple[list[str], list[int]]:
    """``--res 224 384 448``: Click options take one value, so bare integers that follow among the
    positional arguments are resolutions too (a spec path is never a bare integer)."""
    refs, res = [], list(sizes or [])
    for a in args:
        if a.isdigit() and not Path(a).exists():
            res.append(int(a))
        else:
            refs.append(a)
    if not refs:
        raise HirisearchError("expected at least one spec file or model name")
    from hirisearch.limits import MAX_IMG_SIZE

    for r in res:
        if not 0 < r <= MAX_IMG_SIZE:
            raise HirisearchError(
                f"--res must be a positive integer <= {MAX_IMG_SIZE}, but got {r}"
            )
    return refs, res


Refs = Annotated[
    list[str],
    typer.Argument(
        help="Spec files, timm:<name>, torchvision:<name>, module.path:callable or "
        "file.py:callable; bare integers are resolutions."
    ),
]

Res = Annotated[
    list[int] | None, typer.Option("--res", "-r", help="Input resolution(s); repeat or list them.")
]

Kwargs = Annotated[
    str | None,
    typer.Option(
        "--kwargs",
        help="Keyword arguments for factory and torchvision: targets, key=value,... (YAML values).",
    ),
]

InputShape = Annotated[
    list[str] | None,
    typer.Option(
        "--input-shape",
        help="Input of factory and torchvision: targets, one sample's sizes, [dtype:]d,d,... "
        "(default 3,R,R; --res sets the first input's H,W); repeat it for each positional "
        "input, e.g. --input-shape 3,224,224 --input-shape int64:77.",
    ),
]

#: ``--mode``: the module mode a model is counted in.
Mode = Annotated[
    str,
    typer.Option(
        help="Module mode of the count: eval (inference) or train (BatchNorm on batch "
        "statistics, as fvcore counts it)."
    ),
]


Task = Annotated[
    str | None,
    typer.Option(
        "--task",
        help="Put each spec's backbone (dense form) under a task preset's neck and head: "
        "ade-upernet, ade-segformer, cityscapes, ... (--res overrides the preset's size).",
    ),
]


def resolve_refs(
    names: Sequence[str],
    kwargs: str | None,
    input_shape: Sequence[str] | None,
    task: str | None = None,
) -> list[Any]:
    """The targets of ``names``, ``--kwargs`` and ``--input-shape`` applied to the code targets,
    each under the task preset ``task`` when given."""
    from hirisearch.targets import resolve_all
    from hirisearch.targets.code import parse_kwargs
    from hirisearch.targets.inputs import parse_input_shapes

    targets = resolve_all(
        names, kwargs=parse_kwargs(kwargs), input_shape=parse_input_shapes(input_shape)
    )
    if task is None:
        return targets
    from hirisearch.targets.task import with_task

    return [with_task(t, task) for t in targets]


def parse_counters(value: str | None) -> list[str]:
    if not value:
        return []
    from hirisearch.cost.counters import COUNTERS

    names = [v.strip() for v in value.split(",") if v.strip()]
    for n in names:
        if n not in COUNTERS:
            raise HirisearchError(
                f"--counters: unknown counter {n!r}; valid: {', '.join(COUNTERS)}"
            )
    return names


def emit_json(doc: Any) -> None:
    """One compact JSON document per line on stdout."""
    sys.stdout.write(json.dumps(doc, default=json_default) + "\n")
    sys.stdout.flush()


def out_option(default: str) -> Any:
    """``--out``/``-o``: the run folder (a ``Path``), one spelling for every command; ``default``
    names the folder a command picks without it."""
    return typer.Option(
        "--out",
        "-o",
        help="Run folder for results.json, results.csv, report.md, report.html and plots/ "
        f"(default: {default}).",
    )


Out = Annotated[Path | None, out_option("reports/<timestamp>-<name>/")]

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


def save_run_folder(
    ctx: typer.Context,
    results: Any,
    *,
    out: Path | None,
    quiet_stdout: bool = False,
    figures: bool = True,
) -> Path:
    """Write the run folder of ``results`` (:func:`hirisearch.report.run.save.save_run`, with
    the command line) and print its path (on stderr when stdout carries JSON).

    Args:
        quiet_stdout: stdout is reserved for JSON documents.
        figures: draw the plots and report.html too (matplotlib: about 1 s).
    """
    from hirisearch.report.run.save import save_run

    files = save_run(results, out, command=command_line(ctx), figures=figures)
    if quiet_stdout:
        err_console.print(f"hirisearch: run folder: {files.dir}", markup=False)
    else:
        console.print(f"run folder: {files.dir}", markup=False, soft_wrap=True)
    return files.dir
