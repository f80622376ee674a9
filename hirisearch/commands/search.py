"""The search command: budget-constrained architecture search on Optuna."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hirisearch import interrupt
from hirisearch.commands.common import EXIT_INTERRUPTED, console, emit_json, err_console


def _fmt_value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def pareto_table(result: Any, baselines: list[dict[str, Any]] = ()) -> Any:  # type: ignore[assignment]
    """The Pareto front as a Rich table (a pure function of the result)."""
    from rich.table import Table

    from hirisearch.report import format as fmt

    names = [o["name"] for o in result.objectives]
    t = Table(
        title=f"Pareto front: {len(result.pareto)} configurations "
        f"({result.feasible} feasible of {result.complete} trials)",
        title_justify="left",
    )
    t.add_column("trial", justify="right")
    t.add_column("changes from the base spec (* = changed)", overflow="fold")
    t.add_column("params", justify="right")
    t.add_column("GFLOPs", justify="right")
    lat = result.device is not None
    if lat:
        t.add_column(f"latency (ms, predicted, {result.device})", justify="right")
    for n in names:
        if n not in ("params", "gmacs", "latency_ms"):
            t.add_column(n, justify="right")
    for b in result.budgets:
        t.add_column(f"slack {b}", justify="right")
    t.add_column("traced", justify="center")
    if result.base:
        base = result.base
        row = [
            "base",
            f"{base['name']} (as shipped)",
            fmt.params_m(base["params"]),
            fmt.gmacs(base["macs"]),
        ]
        row += [_fmt_obj(base.get("latency_ms"))] if lat else []
        row += [
            _fmt_obj(base["objectives"].get(n))
            for n in names
            if n not in ("params", "gmacs", "latency_ms")
        ]
        row += [f"{base['slack'].get(b, 0):+.3g}" for b in result.budgets]
        row.append("")
        t.add_row(*row, style="dim")
    for b in baselines:
        row = [
            "baseline",
            f"{b['name']} ({b['spec']}, at {b['img_size']})",
            fmt.params_m(b["params"]),
            fmt.gmacs(b["macs"]),
        ]
        row += [""] if lat else []
        row += [
            _fmt_obj(b["objectives"].get(n))
            for n in names
            if n not in ("params", "gmacs", "latency_ms")
        ]
        row += ["" for _ in result.budgets]
        row.append("")
        t.add_row(*row, style="cyan")
    for e in result.pareto:
        r = e.record
        changes = _changes(e.diff, base_spec=result.base_spec)
        row = [str(r.number), changes or "(base)", fmt.params_m(r.params), fmt.gmacs(r.macs)]
        row += [_fmt_obj(r.latency_ms)] if lat else []
        row += [
            _fmt_obj(r.objectives.get(n))
            for n in names
            if n not in ("params", "gmacs", "latency_ms")
        ]
        row += [f"{r.slack.get(b, 0):+.3g}" for b in result.budgets]
        if e.traced is None:
            row.append("-")
        else:
            ok = e.traced.agrees and e.traced.within_budget
            row.append("ok" if ok else "MISMATCH" if not e.traced.agrees else "OVER BUDGET")
        t.add_row(*row)
    return t


def _changes(diff: dict[str, Any], *, base_spec: dict[str, Any] | None) -> str:
    """Changed fields, each shown whole once (``depths=[2,4,5,4,3]``); changed entries marked *."""
    fields: dict[str, list[str]] = {}
    for path in diff:
        top, _, rest = path.partition(".")
        fields.setdefault(top, []).append(rest)
    parts = []
    for top, idx in fields.items():
        value = (base_spec or {}).get(top)
        if isinstance(value, list) and all(i.isdigit() for i in idx):
            new = list(value)
            for i in idx:
                new[int(i)] = diff[f"{top}.{i}"][1]
            shown = ",".join(
                f"{_fmt_value(v)}*" if str(j) in idx else _fmt_value(v) for j, v in enumerate(new)
            )
            parts.append(f"{top}=[{shown}]")
        else:
            parts.extend(
                f"{top}{'.' + i if i else ''}={_fmt_value(diff[top + ('.' + i if i else '')][1])}"
                for i in idx
            )
    return " ".join(parts)


def _fmt_obj(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def search(
    space_file: Annotated[str, typer.Argument(help="Search-space YAML (specs/search/*.yaml).")],
    trials: Annotated[
        int | None, typer.Option(min=1, help="Finished trials wanted (default: the space's).")
    ] = None,
    max_gflops: Annotated[
        float | None, typer.Option("--max-gflops", help="Budget: at most this many GFLOPs (GMACs).")
    ] = None,
    res: Annotated[int | None, typer.Option("--res", min=1, help="Input resolution.")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (postgresql://... to share a study).")
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name (default: the space's name).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Local worker processes (default: 1, or one per --gpus)."),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(
            "--gpus",
            help="Device ids, e.g. 0,1,2,3: one worker process per device, each with "
            "CUDA_VISIBLE_DEVICES set to its id (the objective's build() puts the model there).",
        ),
    ] = None,
    allow_code: Annotated[
        bool,
        typer.Option(
            "--allow-code",
            help="Import and run the code the space's `module:function` objectives name "
            "(refused without it).",
        ),
    ] = False,
    heartbeat: Annotated[
        int | None,
        typer.Option(
            "--heartbeat",
            min=1,
            help="Seconds between heartbeats of workers on a shared database (default 10); a "
            "worker silent for 6 of them has its trial failed and re-run.",
        ),
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Run folder (default: reports/<space>-<timestamp>).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the space size and its corners; run nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="The result as one JSON document.")
    ] = False,
    no_verify: Annotated[
        bool,
        typer.Option("--no-verify", help="Skip the traced re-count of the Pareto configurations."),
    ] = False,
    calibration: Annotated[
        str | None,
        typer.Option(
            "--calibration",
            help="Latency calibration file (default: the one `hirisearch calibrate` wrote for "
            "the space's device).",
        ),
    ] = None,
    baseline: Annotated[
        list[str] | None,
        typer.Option(
            "--baseline",
            help="A model to place in the results table (spec or timm:<name>); repeatable.",
        ),
    ] = None,
) -> None:
    """Budget-constrained search of a model family's configurations (Optuna)."""
    interrupt.saves_on_interrupt()
    from hirisearch.report import format as fmt
    from hirisearch.search.results import corner
    from hirisearch.search.run import SearchOptions, default_run_dir, latest_run_dir
    from hirisearch.search.space import load_space
    from hirisearch.search.types import SearchError

    space = load_space(space_file).with_overrides(max_gmacs=max_gflops, img_size=res)
    if dry_run:
        low, high = corner(space, "low"), corner(space, "high")
        doc = {
            "space": space_file,
            "size": space.size,
            "axes": len(space.axes),
            "cheapest": _corner_doc(low),
            "most_expensive": _corner_doc(high),
        }
        if as_json:
            emit_json(doc)
            return
        size = (
            "infinite (continuous axes)" if space.size == float("inf") else f"{int(space.size):,}"
        )
        console.print(f"{space_file}: {len(space.axes)} axes, {size} configurations", markup=False)
        for label, c in (("cheapest corner", low), ("most expensive corner", high)):
            what = (
                f"{fmt.params_m(c.cost.params)} params, {fmt.gmacs(c.cost.macs)} GFLOPs"
                if c.valid
                else f"invalid: {c.error}"
            )
            values = ", ".join(f"{k}={_fmt_value(v)}" for k, v in c.values.items())
            console.print(f"  {label}: {what}  ({values})", markup=False)
        return
    if resume and out is None:
        found = latest_run_dir(space_file)
        if found is None and storage is None:
            raise SearchError(
                f"--resume: no earlier run of {space_file} under reports/; give --out"
            )
        run_dir = found or default_run_dir(space_file)
    else:
        run_dir = Path(out) if out else default_run_dir(space_file)
    devices = _parse_gpus(gpus)
    opts = SearchOptions(
        out=run_dir,
        trials=trials or space.trials,
        storage=storage,
        study=study or Path(space_file).stem,
        resume=resume,
        workers=workers or max(len(devices), 1),
        calibration=calibration,
        verify=not no_verify,
        baselines=[_baseline_row(ref, space) for ref in baseline or []],
        allow_code=allow_code,
        gpus=devices,
        heartbeat_s=heartbeat,
    )
    result = _run_with_progress(space, opts, quiet=as_json)
    if as_json:
        emit_json({**result.to_json(), "baselines": opts.baselines})
    else:
        _render(result, space_file, opts.baselines)
    line = f"report: {result.report}"
    if as_json or result.interrupted:
        err_console.print(f"hirisearch: {line}", markup=False)
    else:
        console.print(line, markup=False, soft_wrap=True)
    if result.interrupted:
        interrupt.report(
            f"{interrupt.LINE}; {result.complete} finished trials are saved in "
            f"{result.run_dir}; continue with --resume --out {result.run_dir}"
        )
        raise typer.Exit(EXIT_INTERRUPTED)


def _parse_gpus(raw: str | None) -> tuple[str, ...]:
    """``--gpus 0,1`` -> ("0", "1"): non-empty, distinct ids."""
    from hirisearch.search.types import SearchError

    if raw is None:
        return ()
    ids = tuple(part.strip() for part in raw.split(","))
    if not all(ids) or len(set(ids)) != len(ids) or any(" " in i for i in ids):
        raise SearchError(
            f"--gpus must list distinct device ids separated by commas (e.g. 0,1,2,3), but got "
            f"{raw!r}"
        )
    return ids


def _corner_doc(c: Any) -> dict[str, Any]:
    return {
        "values": dict(c.values),
        "valid": c.valid,
        "error": c.error,
        "params": c.cost.params if c.valid else None,
        "macs": c.cost.macs if c.valid else None,
    }


def _run_with_progress(space: Any, opts: Any, *, quiet: bool) -> Any:
    """Run with a progress bar on stderr, started once the run folder is claimed."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from hirisearch.search.run import run_search

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


def _baseline_row(ref: str, space: Any) -> dict[str, Any]:
    """A baseline's cost at the space's input size (or its own, if it cannot take that size)."""
    from hirisearch.errors import ResolutionError
    from hirisearch.profile import profile_target
    from hirisearch.targets import resolve

    target = resolve(ref)
    size = space.base.get("img_size")
    try:
        p = profile_target(target, size, traced=False)
    except ResolutionError:
        p = profile_target(target, None, traced=False)
    values = {
        "params": p.params,
        "gmacs": p.macs / 1e9,
        "activations": p.acts,
        "img_size": p.img_size,
    }
    return {
        "name": p.name,
        "spec": ref,
        "img_size": p.img_size,
        "params": p.params,
        "macs": p.macs,
        "objectives": {o.name: values.get(o.name) for o in space.objectives},
    }


def _render(result: Any, space_file: str, baselines: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    from hirisearch.report import format as fmt

    if result.exact is None:
        console.print(
            f"run {result.run_dir}: {result.complete + result.pruned} finished trials "
            f"({f'{result.pruned} pruned, ' if result.pruned else ''}"
            f"{result.failed} failed or interrupted), {result.feasible} feasible; study "
            f"{result.study!r} in {result.storage}",
            markup=False,
            soft_wrap=True,
        )
    else:
        x = result.exact
        console.print(
            f"exact: {x['configurations']:,} configurations in {x['seconds']:.2f} s "
            f"({x['configs_per_s'] or 0:,.0f} configurations/s swept): {x['feasible']:,} "
            f"feasible, {x['invalid']:,} invalid, {x['outside_budget']:,} outside the budgets",
            markup=False,
            soft_wrap=True,
        )
        for label, n in x["outside_by_bound"].items():
            console.print(f"  outside {label}: {n:,}", markup=False)
        for reason, n in x["invalid_by_reason"].items():
            console.print(f"  invalid ({n:,}): {reason}", markup=False, soft_wrap=True)
    if not result.pareto:
        c = result.cheapest or {}
        if c.get("values") is None:
            console.print(
                "no feasible configuration, and no valid configuration in the space", markup=False
            )
        else:
            values = ", ".join(f"{k}={_fmt_value(v)}" for k, v in c["values"].items())
            console.print(
                f"no feasible configuration within {', '.join(result.budgets)}; the cheapest "
                f"configuration in the space ({c['how']}) costs {fmt.params_m(c['params'])} params, "
                f"{fmt.gmacs(c['macs'])} GFLOPs: {values}",
                markup=False,
                soft_wrap=True,
            )
        return
    console.print(pareto_table(result, baselines))
    console.print(f"Pareto specs: {Path(result.run_dir) / 'pareto'}/", markup=False)
    for note in result.notes:
        err_console.print(f"hirisearch: warning: {note}", markup=False)
