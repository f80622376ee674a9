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
    console,
    emit_json,
    err_console,
    resolve_refs,
    save_run,
    split_refs_and_sizes,
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
) -> None:
    """GFLOPs and params against input resolution, one line per model; sizes a model cannot take
    are skipped for it with a note. Analytic cost for spec files, traced count otherwise."""
    from hirisearch.ops.sweep import parse_resolutions, sweep_targets
    from hirisearch.report.builders import build_report
    from hirisearch.report.document import markdown_table

    names, bare = split_refs_and_sizes(refs, None)
    sizes = parse_resolutions([*(res or []), *(str(b) for b in bare)] or [DEFAULT_RES])
    targets = resolve_refs(names, kwargs, input_shape)
    measure = _latency_measurer(device, min_time, force) if latency else None
    doc = sweep_targets(targets, sizes, batch=batch, latency_ms=measure)
    name = "sweep-" + "+".join(t.name for t in targets)
    if as_json:
        emit_json({"kind": "sweep", **doc})
    else:
        report = build_report({"kind": "sweep", **doc})
        for section in report.sections:
            for table in section.tables:
                console.print(markdown_table(table), markup=False, soft_wrap=True)
                console.print()
        for s in doc["series"]:
            if s["skipped"]:
                sk = ", ".join(str(k["img_size"]) for k in s["skipped"])
                err_console.print(
                    f"hirisearch: note: {s['name']}: skipped {sk}: {s['skipped'][0]['reason']}",
                    markup=False,
                    soft_wrap=True,
                )
    save_run(ctx, "sweep", doc, out=out, name=name, quiet_stdout=as_json, figures=not no_report)


def _latency_measurer(device: str, min_time: float, force: bool):  # noqa: ANN202
    """``(target, img_size, batch) -> median ms`` through the bench machinery, memory-checked first."""
    from hirisearch.latency.device import resolve_device
    from hirisearch.latency.measure import BenchOptions, bench_target
    from hirisearch.memory import ensure_targets_fit

    dev = resolve_device(device)
    opts = BenchOptions(device=dev, min_time_s=min_time, warmup_s=min(0.5, min_time))

    def measure(target, size: int, batch: int) -> float | None:  # noqa: ANN001
        ensure_targets_fit([target], [size], [batch], dev, force=force)
        (r,) = bench_target(target, size, [batch], opts)
        return r.latency_ms if r.status == "ok" else None

    return measure
