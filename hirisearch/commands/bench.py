"""Latency commands: bench (measure real forward passes) and calibrate (fit the latency predictor)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from hirisearch import interrupt
from hirisearch.commands.common import (
    EXIT_INTERRUPTED,
    Coverage,
    InputShape,
    Kwargs,
    NoReport,
    Out,
    Refs,
    Res,
    Task,
    console,
    emit_json,
    err_console,
    resolve_refs,
    save_run_folder,
    split_refs_and_sizes,
)
from hirisearch.commands.train import TrainCheckpoint, TrainOptimizer, train_config
from hirisearch.errors import HirisearchError
from hirisearch.models.resolution import Size

Device = Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")]
Threads = Annotated[
    int | None, typer.Option(min=1, help="CPU threads (default: torch's current count).")
]
Clock = Annotated[
    str,
    typer.Option(
        help="CPU timer: wall, or cpu (process CPU time; with --threads 1 on a shared machine)."
    ),
]


def parse_batches(value: str) -> list[int]:
    """``"1,8,64"`` -> ``[1, 8, 64]``."""
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise HirisearchError(
                f"--batch: expected comma-separated positive integers like 1,8,64, but got {value!r}"
            )
        out.append(int(part))
    return out


def _check_clock(clock: str) -> None:
    if clock not in ("wall", "cpu"):
        raise HirisearchError(f"--clock: expected wall or cpu, but got {clock!r}")


def _render(results: list[Any], predicted: bool) -> None:
    from hirisearch.report.terminal.bench import bench_header, bench_notes, bench_table

    console.print(bench_header(results), soft_wrap=True, markup=False)
    console.print(bench_table(results, predicted=predicted))
    for level, text in bench_notes(results):
        err_console.print(f"hirisearch: {level}: {text}", markup=False)


def bench(
    ctx: typer.Context,
    refs: Refs,
    res: Res = None,
    device: Device = "auto",
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated (1,8,64).")] = "1",
    dtype: Annotated[str, typer.Option(help="fp32, or bf16 / fp16 autocast.")] = "fp32",
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="NHWC model and input.")
    ] = False,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the model.")] = False,
    fuse: Annotated[
        bool,
        typer.Option(
            "--fuse/--no-fuse",
            help="Fold inference BatchNorm into the preceding conv (default; --no-fuse: keep it).",
        ),
    ] = True,
    threads: Threads = None,
    predict: Annotated[
        bool,
        typer.Option(
            "--predict", help="Also show the calibrated predicted latency and its interval."
        ),
    ] = False,
    coverage: Coverage = 0.9,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document per result.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Run configurations the memory estimate refuses.")
    ] = False,
    min_time: Annotated[
        float, typer.Option(min=0.0, help="Seconds of timed runs per result.")
    ] = 2.0,
    warmup: Annotated[float, typer.Option(min=0.0, help="Seconds of warm-up per result.")] = 0.5,
    clock: Clock = "wall",
    out: Out = None,
    no_report: NoReport = False,
    kwargs: Kwargs = None,
    input_shape: InputShape = None,
    train: Annotated[
        bool,
        typer.Option(
            "--train",
            help="Time training steps: forward + backward + optimizer step (spec models).",
        ),
    ] = False,
    optimizer: TrainOptimizer = "adamw",
    checkpoint: TrainCheckpoint = "none",
    task: Task = None,
) -> int | None:
    """Measure latency, throughput, achieved GFLOP/s and peak memory of real forward passes; with
    --train, of training steps."""
    if train:
        if channels_last or compile_ or predict:
            raise HirisearchError("--channels-last, --compile and --predict are for inference")
        _bench_train(
            refs, res, device, batch, dtype, optimizer, checkpoint, threads, min_time, warmup,
            clock, as_json, task,
        )  # fmt: skip
        return None
    train_config(False, 1, "fp32", optimizer, checkpoint, 1)  # refused without --train
    interrupt.saves_on_interrupt()
    from hirisearch.latency.device import check_dtype, resolve_device
    from hirisearch.latency.measure import BenchOptions
    from hirisearch.ops.bench import bench_targets

    names, sizes = split_refs_and_sizes(refs, res)
    dev = resolve_device(device)
    check_dtype(dtype)
    _check_clock(clock)
    batches = parse_batches(batch)
    targets = resolve_refs(names, kwargs, input_shape, task)
    opts = BenchOptions(
        device=dev, dtype=dtype, threads=threads, channels_last=channels_last, compile=compile_,
        fuse=fuse, warmup_s=warmup, min_time_s=min_time, clock=clock,
    )  # fmt: skip
    measured = partial(
        bench_targets, targets, list(sizes) or [None], batches, opts, coverage=coverage
    )
    return _measure_and_save(
        ctx, measured, predict=predict, force=force, as_json=as_json, out=out, figures=not no_report
    )


def _measure_and_save(
    ctx: typer.Context,
    measured: Callable[..., Any],
    *,
    predict: bool,
    force: bool,
    as_json: bool,
    out: Any,
    figures: bool,
) -> int | None:
    """Run the measurements, print each (JSON) or the table, and save the run folder; a Ctrl-C
    keeps and shows what was measured so far."""
    results: list[Any] = []
    try:
        for r in measured(predict=predict, force=force):
            results.append(r)
            if as_json:
                emit_json(r.to_json())
    except KeyboardInterrupt:
        interrupt.handled()
        if not as_json and results:
            _render(results, predict)
        interrupt.report(f"{interrupt.LINE}; {len(results)} result(s) measured so far")
        return EXIT_INTERRUPTED
    if not as_json:
        _render(results, predict)
    if any(r.status == "ok" for r in results):
        save_run_folder(ctx, results, out=out, quiet_stdout=as_json, figures=figures)
    else:
        err_console.print(
            "hirisearch: warning: nothing was measured; no run folder written", markup=False
        )
    return None


def _bench_train(
    refs: list[str], res: list[str] | None, device: str, batch: str, dtype: str, optimizer: str,
    checkpoint: str, threads: int | None, min_time: float, warmup: float, clock: str,
    as_json: bool, task: str | None,
) -> None:  # fmt: skip
    """``bench --train``: one timed training step per model, size and batch (no run folder)."""
    from hirisearch.latency.device import resolve_device
    from hirisearch.ops.train import bench_train
    from hirisearch.report.terminal.train import train_bench_split, train_bench_table

    names, sizes = split_refs_and_sizes(refs, res)
    dev = resolve_device(device)
    _check_clock(clock)
    from hirisearch.train.config import TrainConfig

    configs = [
        TrainConfig(batch=b, dtype=dtype, optimizer=optimizer, checkpoint=checkpoint)  # type: ignore[arg-type]  # validated by TrainConfig
        for b in parse_batches(batch)
    ]
    results = []
    for target in resolve_refs(names, None, None, task):
        size_list: list[Size | None] = [*sizes] or [None]
        for size in size_list:
            sized = target.at(size)
            for config in configs:
                r = bench_train(sized, config, device=dev, threads=threads, warmup_s=warmup,
                                min_time_s=min_time, clock=clock)  # fmt: skip
                results.append(r)
                if as_json:
                    emit_json(r.to_json())
    if not as_json:
        console.print(train_bench_table(results))
        split = train_bench_split(results)
        if split is not None:
            console.print(split)


def calibrate(
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    out: Annotated[
        Path | None,
        typer.Option(help="Calibration file (default: $HIRISEARCH_CACHE or ~/.cache/hirisearch)."),
    ] = None,
    threads: Threads = None,
    min_time: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="Seconds of timed runs per micro-benchmark [default: 0.15] (--quick: per "
            "network and round [default: 0.3]).",
        ),
    ] = None,
    clock: Clock = "wall",
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Adapt an existing calibration (--from) from a dozen whole networks timed here, "
            "in about a minute.",
        ),
    ] = False,
    base: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="--quick: the calibration adapted (another machine's file; default: this "
            "device's stored one).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")] = False,
) -> None:
    """Time operator micro-benchmarks and fit the latency predictor for one device."""
    from hirisearch.latency.calibration import calibrate as run_calibration
    from hirisearch.latency.calibration import calibrate_quick
    from hirisearch.latency.device import resolve_device
    from hirisearch.latency.predict import calibration_path, load_calibration, save_calibration
    from hirisearch.report.terminal.bench import calibration_table

    if device == "auto":
        raise HirisearchError("--device: calibrate one device at a time: cpu or cuda")
    if base is not None and not quick:
        raise HirisearchError("--from: only with --quick (the calibration it adapts)")
    dev = resolve_device(device)
    _check_clock(clock)
    if quick:
        source = base or calibration_path(dev)
        cal = calibrate_quick(
            dev,
            load_calibration(dev, source),
            base_name=str(source),
            threads=threads,
            min_time_s=0.3 if min_time is None else min_time,
            clock=clock,
        )
    else:
        cal = run_calibration(
            dev, threads=threads, min_time_s=0.15 if min_time is None else min_time, clock=clock
        )
    path = save_calibration(cal, out)
    if as_json:
        emit_json({**cal.to_json(), "path": str(path)})
        return
    console.print(calibration_table(cal))
    if cal.family_scales:
        factors = ", ".join(f"{f} x{v:.2f}" for f, v in sorted(cal.family_scales.items()))
        console.print(f"per-family factors: {factors}", markup=False, soft_wrap=True)
    if cal.intervals is not None:
        from hirisearch.report.terminal.bench import interval_line

        console.print(interval_line(cal.intervals), markup=False, soft_wrap=True)
    if cal.adapted_from:
        console.print(
            f"adapted from {cal.adapted_from} on {len(cal.networks)} networks timed here",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"saved {path}", markup=False)
