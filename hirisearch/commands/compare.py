"""``hirisearch compare``: several models at several resolutions in one table (and a plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hirisearch.commands.common import (
    InputShape,
    Kwargs,
    Mode,
    NoReport,
    Out,
    Refs,
    Res,
    Task,
    console,
    emit_json,
    save_run_folder,
    split_refs_and_sizes,
)
from hirisearch.commands.train import (
    Train,
    TrainBatch,
    TrainCheckpoint,
    TrainDtype,
    TrainMemory,
    TrainOptimizer,
    TrainShard,
    train_config,
)


def compare(
    ctx: typer.Context,
    refs: Refs,
    res: Res = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write GFLOPs against resolution (log scale) to this PNG."),
    ] = None,
    no_trace: Annotated[
        bool, typer.Option("--no-trace", help="Skip the traced count of spec models.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list of the profile documents.")
    ] = False,
    out: Out = None,
    no_report: NoReport = False,
    convention: Annotated[
        str, typer.Option(help="Counting convention: ours (the papers') or fvcore.")
    ] = "ours",
    kwargs: Kwargs = None,
    input_shape: InputShape = None,
    mode: Mode = "eval",
    train: Train = False,
    batch: TrainBatch = 1,
    dtype: TrainDtype = "fp32",
    optimizer: TrainOptimizer = "adamw",
    checkpoint: TrainCheckpoint = "none",
    shard: TrainShard = 1,
    memory: TrainMemory = None,
    task: Task = None,
) -> None:
    """Params, GFLOPs, ratio to the first model, attention share and output grid, model x
    resolution; with --train, training GFLOPs and peak memory beside them."""
    from hirisearch.ops.compare import compare as run_compare
    from hirisearch.report.plots import resolution_scaling
    from hirisearch.report.terminal.compare import compare_header, compare_table
    from hirisearch.targets.code import parse_kwargs
    from hirisearch.targets.inputs import parse_input_shapes

    names, sizes = split_refs_and_sizes(refs, res)
    config = train_config(train, batch, dtype, optimizer, checkpoint, shard, batch_given=True)
    result = run_compare(
        names,
        sizes,
        traced=not no_trace,
        convention=convention,
        kwargs=parse_kwargs(kwargs),
        input_shape=parse_input_shapes(input_shape),
        mode=mode,
        train=config,
        memories=memory,
        task=task,
    )
    written = resolution_scaling(result.series(), plot) if plot is not None else []
    if as_json:
        emit_json(result.to_json())
    else:
        console.print(compare_header(result), markup=False, soft_wrap=True)
        console.print(compare_table(result))
        for p in written:
            console.print(f"plot: {p}", markup=False, soft_wrap=True)
    save_run_folder(ctx, result, out=out, quiet_stdout=as_json, figures=not no_report)
