"""``hirisearch search``: budget-constrained architecture search on Optuna."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from hirisearch import interrupt
from hirisearch.commands.common import (
    EXIT_INTERRUPTED,
    Res,
    console,
    emit_json,
    err_console,
    out_option,
    split_refs_and_sizes,
)

SpaceFile = Annotated[
    list[str],
    typer.Argument(
        help="Search-space YAML (specs/search/*.yaml); a bare integer is the resolution.",
        metavar="SPACE_FILE",
    ),
]
Trials = Annotated[
    int | None, typer.Option(min=1, help="Finished trials wanted (default: the space's).")
]
MaxGflops = Annotated[
    float | None, typer.Option("--max-gflops", help="Budget: at most this many GFLOPs (GMACs).")
]
Storage = Annotated[
    str | None, typer.Option(help="Optuna storage URL (postgresql://... to share a study).")
]
Study = Annotated[str | None, typer.Option(help="Study name (default: the space's name).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")]
Workers = Annotated[
    int | None,
    typer.Option(min=1, help="Local worker processes (default: 1, or one per --gpus)."),
]
Gpus = Annotated[
    str | None,
    typer.Option(
        "--gpus",
        help="Device ids, e.g. 0,1,2,3: one worker process per device, each with "
        "CUDA_VISIBLE_DEVICES set to its id (the objective's build() puts the model there).",
    ),
]
AllowCode = Annotated[
    bool,
    typer.Option(
        "--allow-code",
        help="Import and run the code the space's `module:function` objectives name "
        "(refused without it).",
    ),
]
Heartbeat = Annotated[
    int | None,
    typer.Option(
        "--heartbeat",
        min=1,
        help="Seconds between heartbeats of workers on a shared database (default 10); a "
        "worker silent for 6 of them has its trial failed and re-run.",
    ),
]
#: The default folder is named after the space, so that ``--resume`` finds its latest run.
SearchOut = Annotated[Path | None, out_option("reports/<space>-<timestamp>/")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the space size and its corners; run nothing.")
]
AsJson = Annotated[bool, typer.Option("--json", help="The result as one JSON document.")]
NoVerify = Annotated[
    bool, typer.Option("--no-verify", help="Skip the traced re-count of the Pareto configurations.")
]
Calibration = Annotated[
    str | None,
    typer.Option(
        "--calibration",
        help="Latency calibration file (default: the one `hirisearch calibrate` wrote for "
        "the space's device).",
    ),
]
Baseline = Annotated[
    list[str] | None,
    typer.Option(
        "--baseline",
        help="A model to place in the results table (spec or timm:<name>); repeatable.",
    ),
]


def search(
    space_file: SpaceFile,
    trials: Trials = None,
    max_gflops: MaxGflops = None,
    res: Res = None,
    storage: Storage = None,
    study: Study = None,
    resume: Resume = False,
    workers: Workers = None,
    gpus: Gpus = None,
    allow_code: AllowCode = False,
    heartbeat: Heartbeat = None,
    out: SearchOut = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    no_verify: NoVerify = False,
    calibration: Calibration = None,
    baseline: Baseline = None,
) -> int | None:
    """Budget-constrained search of a model family's configurations (Optuna)."""
    interrupt.saves_on_interrupt()
    from hirisearch.ops.search import launch
    from hirisearch.report.run.save import save_run

    files, sizes = split_refs_and_sizes(space_file, res)
    name, space = launch.load_search_space(files, sizes, max_gmacs=max_gflops)
    if dry_run:
        _show_dry_run(launch.dry_run(space, name), as_json=as_json)
        return None
    opts = launch.search_options(
        space, name, out=out, trials=trials, storage=storage, study=study, resume=resume,
        workers=workers, gpus=gpus, calibration=calibration, verify=not no_verify,
        baselines=baseline or [], allow_code=allow_code, heartbeat_s=heartbeat,
    )  # fmt: skip
    result = _run_with_progress(space, opts, quiet=as_json)
    written = save_run(result, result.run_dir)  # the space's own command line is recorded
    result = replace(result, report=str(written.html))
    _show(result, as_json=as_json)
    if result.interrupted:
        interrupt.report(
            f"{interrupt.LINE}; {result.complete} finished trials are saved in "
            f"{result.run_dir}; continue with --resume --out {result.run_dir}"
        )
        return EXIT_INTERRUPTED
    return None


def _show_dry_run(doc: dict[str, Any], *, as_json: bool) -> None:
    from hirisearch.report.terminal.search import dry_run_lines

    if as_json:
        emit_json(doc)
        return
    for line in dry_run_lines(doc):
        console.print(line, markup=False)


def _show(result: Any, *, as_json: bool) -> None:
    """The result (JSON on stdout, or the summary and table), then where its report is."""
    from hirisearch.report.terminal.search import search_summary

    if as_json:
        emit_json(result.to_json())
    else:
        for item in search_summary(result, result.baselines):  # lines unwrapped, the table by Rich
            if isinstance(item, str):
                console.print(item, markup=False, soft_wrap=True)
            else:
                console.print(item)
        for note in result.notes:
            err_console.print(f"hirisearch: warning: {note}", markup=False)
    line = f"report: {result.report}"
    if as_json or result.interrupted:
        err_console.print(f"hirisearch: {line}", markup=False)
    else:
        console.print(line, markup=False, soft_wrap=True)


def _run_with_progress(space: Any, opts: Any, *, quiet: bool) -> Any:
    """Run with a progress bar on stderr, started once the run folder is claimed."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from hirisearch.ops.search.run import run_search

    if quiet:
        return run_search(space, opts)
    bar = Progress(
        TextColumn("search"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("feasible {task.fields[feasible]}"),
        TextColumn("best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=err_console,
    )
    task: list[Any] = []

    def update(p: Any) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task("search", total=p.total, feasible=0, best="-"))
        bar.update(task[0], completed=p.done, total=p.total, feasible=p.feasible, best=p.best)

    try:
        return run_search(space, opts, progress=update)
    finally:
        if task:
            bar.stop()
