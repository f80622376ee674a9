"""Core commands: profile, validate, list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hirisearch.commands.common import (
    DrawReport,
    InputShape,
    Kwargs,
    Out,
    Refs,
    Res,
    console,
    emit_json,
    err_console,
    error_line,
    parse_counters,
    resolve_refs,
    save_run,
    split_refs_and_sizes,
)
from hirisearch.errors import HirisearchError
from hirisearch.limits import TRACED_MODULE_LIMIT


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
        bool, typer.Option("--predict", help="Also predict latency from the calibration.")
    ] = False,
    convention: Annotated[
        str,
        typer.Option(
            help="Counting convention: ours (the papers'), fvcore (norms and upsampling included, "
            "as fvcore and timm's tables count), or a family's own (e.g. piip: PIIP's repo)."
        ),
    ] = "ours",
    kwargs: Kwargs = None,
    input_shape: InputShape = None,
) -> None:
    """Params, GFLOPs (analytic and traced) and a per-stage breakdown of a model."""
    from hirisearch.ops.profile import profile_target
    from hirisearch.report.tables import profile_header, profile_stages, profile_summary

    names, sizes = split_refs_and_sizes(refs, res)
    extra = parse_counters(counters)
    results = []
    for target in resolve_refs(names, kwargs, input_shape):
        size_list: list[int | None] = [*sizes] or [None]
        for size in size_list:
            r = profile_target(
                target,
                size,
                batch=batch,
                depth=depth,
                traced=not no_trace,
                counters=extra,
                convention=convention,
                trace_limit=trace_limit or None,
            )
            results.append(r)
            additions: dict = {}
            shown: list = []
            if latency or predict:
                additions, shown = profile_extras(
                    target, size, batch, latency=latency, predict=predict
                )
            if as_json:
                emit_json({**r.to_json(), **additions})
            else:
                console.print(profile_header(r), soft_wrap=True, markup=False)
                console.print(profile_summary(r))
                console.print(profile_stages(r, rows=depth > 1))
                for item in shown:
                    console.print(item, soft_wrap=True, markup=False)
            for w in r.warnings:
                err_console.print(f"hirisearch: warning: {w}", markup=False)
    run_name = "+".join(dict.fromkeys(r.name for r in results))
    save_run(
        ctx,
        "profile",
        {"results": results},
        out=out,
        name=run_name,
        quiet_stdout=as_json,
        figures=draw_report,
    )


def validate(files: Annotated[list[str], typer.Argument(help="Spec files to check.")]) -> None:
    """Check spec files: schema, invariants, and that the model plans at its own img_size."""
    from hirisearch.report import format as fmt
    from hirisearch.targets import resolve

    bad = 0
    for f in files:
        try:
            target = resolve(f)
            plan = target.plan()
            cost = target.cost(plan)
        except HirisearchError as e:
            bad += 1
            err_console.print(error_line(e.one_line()), markup=False)
            continue
        detail = ""
        if cost is not None:
            detail = f"{fmt.params_m(cost.total.params)} params, {fmt.gmacs(cost.total.macs)} GFLOPs at {plan.img_size}"
        console.print(f"ok  {f}  ({target.family}: {target.name}; {detail})", markup=False)
    if bad:
        raise typer.Exit(2)


def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The model families and the shipped specs (by name, from any directory), and the specs
    under ./specs when that is another folder."""
    from rich.table import Table

    from hirisearch.models import FAMILIES
    from hirisearch.spec import load_spec
    from hirisearch.spec.shipped import SHIPPED_DIR, shipped_specs

    found = [(name, path, f"specs/{name}.yaml") for name, path in shipped_specs()]
    here = Path.cwd() / "specs"
    if here.is_dir() and here.resolve() != SHIPPED_DIR:
        for path in sorted(here.rglob("*.yaml")):
            if not path.is_symlink() and "search" not in path.relative_to(here).parts:
                found.append(
                    (str(path.relative_to(Path.cwd())), path, str(path.relative_to(Path.cwd())))
                )
    specs: list[dict[str, str]] = []
    for ref, path, shown in found:
        try:
            s = load_spec(path)
        except HirisearchError:
            continue
        specs.append({"family": s.family, "name": s.name, "path": shown, "ref": ref})
    if as_json:
        emit_json({"families": sorted(FAMILIES), "specs": specs})
        return
    t = Table(title="families", title_justify="left")
    t.add_column("family")
    t.add_column("model")
    t.add_column("specs", justify="right")
    for name, fam in sorted(FAMILIES.items()):
        t.add_row(name, fam.title, str(sum(1 for s in specs if s["family"] == name)))
    console.print(t)
    t = Table(title="specs (name them as shown, from any directory)", title_justify="left")
    t.add_column("ref")
    t.add_column("family")
    t.add_column("name")
    for row in specs:
        t.add_row(row["ref"], row["family"], row["name"])
    console.print(t)


def profile_extras(
    target: Any, size: int | None, batch: int, *, latency: bool, predict: bool
) -> tuple[dict[str, Any], list[Any]]:
    """What ``profile --latency`` / ``--predict`` add: JSON keys and renderables (auto device)."""
    from hirisearch.latency.device import resolve_device

    dev = resolve_device("auto")
    doc: dict[str, Any] = {}
    shown: list[Any] = []
    if predict:
        from hirisearch.latency.predict import load_calibration, predict_latency_ms

        plan = target.plan(size)
        if plan is None:
            raise HirisearchError(f"{target.ref}: --predict needs an analytic cost model")
        cal = load_calibration(dev)
        ms = predict_latency_ms(target.cost(plan), cal, batch=batch, family=target.family)
        doc["predicted_ms"] = ms
        shown.append(f"predicted latency: {ms:.2f} ms ({dev.type}, batch {batch}, calibrated)")
    if latency:
        from hirisearch.latency.measure import BenchOptions, bench_target
        from hirisearch.report.latency import bench_header, bench_table

        results = list(bench_target(target, size, [batch], BenchOptions(device=dev, fuse=True)))
        doc["latency"] = results[0].to_json()
        shown += [bench_header(results), bench_table(results)]
    return doc, shown
