"""``hirisearch sweep``: parameters and GFLOPs of models across input resolutions."""

from __future__ import annotations

from typing import Annotated

import typer

from hirisearch.commands.common import (
    InputShape,
    Kwargs,
    NoReport,
    Out,
    Refs,
    Task,
    console,
    emit_json,
    err_console,
    resolve_refs,
    save_run_folder,
    split_refs_and_sizes,
)
from hirisearch.commands.train import (
    Train,
    TrainCheckpoint,
    TrainDtype,
    TrainOptimizer,
    TrainShard,
    train_config,
)

DEFAULT_RES = "224:1024:32"


def sweep(
    ctx: typer.Context,
    refs: Refs,
    res: Annotated[
        list[str] | None,
        typer.Option(
            "--res",
            "-r",
            help=f"Resolutions: START:STOP[:STEP] (stop included), lists 224,448, or repeated "
            f"(default {DEFAULT_RES}).",
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Batch size (MACs scale with it).")] = 1,
    latency: Annotated[
        bool, typer.Option("--latency", help="Also measure latency at every point (see `bench`).")
    ] = False,
    device: Annotated[str, typer.Option(help="Device for --latency: auto, cpu or cuda.")] = "auto",
    min_time: Annotated[
        float, typer.Option(min=0.0, help="Seconds of timed runs per point with --latency.")
    ] = 1.0,
    force: Annotated[
        bool, typer.Option("--force", help="Measure points the memory estimate refuses.")
    ] = False,
    out: Out = None,
    no_report: NoReport = False,
    as_json: Annotated[bool, typer.Option("--json", help="The sweep document on stdout.")] = False,
    kwargs: Kwargs = None,
    input_shape: InputShape = None,
    train: Train = False,
    dtype: TrainDtype = "fp32",
    optimizer: TrainOptimizer = "adamw",
    checkpoint: TrainCheckpoint = "none",
    shard: TrainShard = 1,
    task: Task = None,
) -> None:
    """GFLOPs and params against input resolution, one line per model; sizes a model cannot take
    are skipped for it with a note. Analytic cost for spec files, traced count otherwise. With
    --train, training GFLOPs and peak memory (analytic) at every point, for a batch of --batch."""
    from hirisearch.ops.bench import latency_measurer
    from hirisearch.ops.sweep import parse_resolutions, sweep_targets
    from hirisearch.report.terminal.sweep import skipped_notes, sweep_tables

    names, bare = split_refs_and_sizes(refs, None)
    sizes = parse_resolutions([*(res or []), *(str(b) for b in bare)] or [DEFAULT_RES])
    targets = resolve_refs(names, kwargs, input_shape, task)
    measure = latency_measurer(device, min_time, force=force) if latency else None
    config = train_config(train, batch, dtype, optimizer, checkpoint, shard)
    result = sweep_targets(targets, sizes, batch=batch, latency_ms=measure, train=config)
    if as_json:
        emit_json(result.to_json())
    else:
        for item in sweep_tables(result):  # a caption, then its table and a blank line
            console.print(item, markup=False)
            if not isinstance(item, str):
                console.print()
        for note in skipped_notes(result):
            err_console.print(f"hirisearch: note: {note}", markup=False, soft_wrap=True)
    save_run_folder(ctx, result, out=out, quiet_stdout=as_json, figures=not no_report)
