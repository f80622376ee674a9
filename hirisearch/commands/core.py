"""Core commands: profile, validate, list."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hirisearch.commands.common import (
    Coverage,
    DrawReport,
    InputShape,
    Kwargs,
    Mode,
    Out,
    Refs,
    Res,
    Task,
    console,
    emit_json,
    err_console,
    error_line,
    parse_counters,
    resolve_refs,
    save_run_folder,
    split_refs_and_sizes,
)
from hirisearch.commands.train import (
    Train,
    TrainCheckpoint,
    TrainDtype,
    TrainMemory,
    TrainOptimizer,
    TrainShard,
    train_config,
)
from hirisearch.errors import SpecError
from hirisearch.limits import TRACED_MODULE_LIMIT
from hirisearch.models.resolution import Size


def profile(
    ctx: typer.Context,
    refs: Refs,
    res: Res = None,
    batch: Annotated[int, typer.Option(min=1, help="Batch size (counts scale with it).")] = 1,
    depth: Annotated[
        int, typer.Option(min=1, help="Module depth of the breakdown (1 = stages).")
    ] = 1,
    counters: Annotated[
        str | None, typer.Option(help="Cross-check counters: fvcore,thop,ptflops.")
    ] = None,
    no_trace: Annotated[
        bool, typer.Option("--no-trace", help="Skip the traced count (analytic only).")
    ] = False,
    trace_limit: Annotated[
        int,
        typer.Option(min=0, help="Skip the traced count above this many modules (0: no limit)."),
    ] = TRACED_MODULE_LIMIT,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document per resolution.")
    ] = False,
    out: Out = None,
    draw_report: DrawReport = False,
    latency: Annotated[
        bool, typer.Option("--latency", help="Also measure latency (see `bench`; auto device).")
    ] = False,
    predict: Annotated[
        bool,
        typer.Option(
            "--predict", help="Also predict latency, with its interval, from the calibration."
        ),
    ] = False,
    coverage: Coverage = 0.9,
    convention: Annotated[
        str,
        typer.Option(
            help="Counting convention: ours (the papers'), fvcore (norms and upsampling included, "
            "as fvcore and timm's tables count), or a family's own (e.g. piip: PIIP's repo)."
        ),
    ] = "ours",
    kwargs: Kwargs = None,
    input_shape: InputShape = None,
    mode: Mode = "eval",
    train: Train = False,
    dtype: TrainDtype = "fp32",
    optimizer: TrainOptimizer = "adamw",
    checkpoint: TrainCheckpoint = "none",
    shard: TrainShard = 1,
    memory: TrainMemory = None,
    measure: Annotated[
        bool, typer.Option("--measure", help="With --train: also measure a real step's peak.")
    ] = False,
    task: Task = None,
) -> None:
    """Params, GFLOPs (analytic and traced) and a per-stage breakdown of a model; with --train,
    what a training step costs (GFLOPs, memory, the largest batch that fits)."""
    from hirisearch.ops.profile import profile_target

    names, sizes = split_refs_and_sizes(refs, res)
    extra = parse_counters(counters)
    config = train_config(train, batch, dtype, optimizer, checkpoint, shard, measure=measure)
    results = []
    for target in resolve_refs(names, kwargs, input_shape, task):
        size_list: list[Size | None] = [*sizes] or [None]
        for size in size_list:
            r = profile_target(
                target, size, batch=batch, depth=depth, traced=not no_trace, counters=extra,
                convention=convention, trace_limit=trace_limit or None, mode=mode, train=config,
                memories=memory, measure=measure,
            )  # fmt: skip
            results.append(r)
            lat = None
            if latency or predict:
                from hirisearch.ops.bench import profile_latency

                lat = profile_latency(
                    target, size, batch, measure=latency, predict=predict, coverage=coverage
                )
            if as_json:
                emit_json({**r.to_json(), **(lat.to_json() if lat is not None else {})})
            else:
                _show_profile(r, lat, rows=depth > 1)
            for w in r.warnings:
                err_console.print(f"hirisearch: warning: {w}", markup=False)
    save_run_folder(ctx, results, out=out, quiet_stdout=as_json, figures=draw_report)


def _show_profile(r: Any, lat: Any, *, rows: bool) -> None:
    """Print one profile: header, totals, the task split, the breakdown, latency lines and the
    training tables."""
    from hirisearch.report.terminal.profile import profile_parts

    for shown in profile_parts(r, rows=rows, lat=lat):
        console.print(shown, soft_wrap=isinstance(shown, str), markup=False)


def validate(files: Annotated[list[str], typer.Argument(help="Spec files to check.")]) -> int:
    """Check spec files: schema, invariants, and that the model plans at its own img_size."""
    from hirisearch.ops.catalog import check_spec
    from hirisearch.report.terminal.catalog import check_line

    bad = 0
    for f in files:
        c = check_spec(f)
        if c.ok:
            console.print(check_line(c), markup=False)
        else:
            bad += 1
            err_console.print(error_line(c.error), markup=False)
    return SpecError.exit_code if bad else 0


def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The model families and the shipped spec files."""
    from hirisearch.ops.catalog import catalog
    from hirisearch.report.terminal.catalog import catalog_tables

    cat = catalog()
    if as_json:
        emit_json(cat.to_json())
        return
    for table in catalog_tables(cat):
        console.print(table)
