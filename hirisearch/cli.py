"""The command-line interface: each command loads, calls the library, renders. Errors become one
line on stderr and a non-zero exit code here, and only here."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from hirisearch.errors import HirisearchError

app = typer.Typer(
    name="hirisearch",
    help="Cost, search and comparison of vision backbones for high-resolution inputs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def error_line(message: str) -> str:
    return "hirisearch: error: " + " ".join(str(message).split())


@contextmanager
def error_boundary() -> Iterator[None]:
    """Turn library errors into one line on stderr and an exit code; never a traceback."""
    try:
        yield
    except HirisearchError as e:
        err_console.print(error_line(e.one_line()), markup=False)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("hirisearch: interrupted", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except MemoryError:
        err_console.print(error_line("out of memory"), markup=False)
        raise typer.Exit(EXIT_INTERNAL) from None


def command(**kwargs: Any) -> Callable[[F], F]:
    """``app.command`` with the error boundary around the body."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*a: Any, **kw: Any) -> Any:
            with error_boundary():
                return fn(*a, **kw)

        app.command(**kwargs)(inner)
        return fn

    return wrap


def split_refs_and_sizes(args: Sequence[str], sizes: Sequence[int] | None) -> tuple[list[str], list[int]]:
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
    for r in res:
        if r <= 0:
            raise HirisearchError(f"--res must be a positive integer, but got {r}")
    return refs, res


def parse_counters(value: str | None) -> list[str]:
    from hirisearch.cost.counters import COUNTERS

    if not value:
        return []
    names = [v.strip() for v in value.split(",") if v.strip()]
    for n in names:
        if n not in COUNTERS:
            raise HirisearchError(f"--counters: unknown counter {n!r}; valid: {', '.join(COUNTERS)}")
    return names


def emit_json(doc: Any) -> None:
    """One compact JSON document per line on stdout."""
    sys.stdout.write(json.dumps(doc, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    if hasattr(o, "to_json"):
        return o.to_json()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# -------------------------------------------------------------------------------- commands
Refs = Annotated[list[str], typer.Argument(help="Spec files (or timm:<name>); bare integers are resolutions.")]
Res = Annotated[list[int] | None, typer.Option("--res", "-r", help="Input resolution(s); repeat or list them.")]


@command()
def profile(
    refs: Refs,
    res: Res = None,
    batch: Annotated[int, typer.Option(min=1, help="Batch size (counts scale with it).")] = 1,
    depth: Annotated[int, typer.Option(min=1, help="Module depth of the breakdown (1 = stages).")] = 1,
    counters: Annotated[str | None, typer.Option(help="Cross-check counters: fvcore,thop,ptflops.")] = None,
    no_trace: Annotated[bool, typer.Option("--no-trace", help="Skip the traced count (analytic only).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document per resolution.")] = False,
) -> None:
    """Params, GFLOPs (analytic and traced) and a per-stage breakdown of a model."""
    from hirisearch.profile import profile_target
    from hirisearch.report.tables import profile_header, profile_stages, profile_summary
    from hirisearch.targets import resolve

    names, sizes = split_refs_and_sizes(refs, res)
    extra = parse_counters(counters)
    for ref in names:
        target = resolve(ref)
        for size in sizes or [None]:
            r = profile_target(target, size, batch=batch, depth=depth, traced=not no_trace, counters=extra)
            if as_json:
                emit_json(r.to_json())
                continue
            console.print(profile_header(r), soft_wrap=True, markup=False)
            console.print(profile_summary(r))
            console.print(profile_stages(r, rows=depth > 1))
            for w in r.warnings:
                err_console.print(f"hirisearch: warning: {w}", markup=False)


@command()
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


def _spec_dirs() -> list[Path]:
    here = Path.cwd() / "specs"
    shipped = Path(__file__).resolve().parent.parent / "specs"
    return [d for d in dict.fromkeys([here, shipped]) if d.is_dir()]


@command(name="list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The model families and the shipped spec files."""
    from rich.table import Table

    from hirisearch.models import FAMILIES
    from hirisearch.spec import load_spec

    specs: list[dict[str, str]] = []
    for d in _spec_dirs():
        for path in sorted(d.rglob("*.yaml")):
            if path.is_symlink() or "search" in path.relative_to(d).parts:
                continue
            try:
                s = load_spec(path)
            except HirisearchError:
                continue
            specs.append({"family": s.family, "name": s.name, "path": str(path.relative_to(d.parent))})
        break
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
    t = Table(title="shipped specs", title_justify="left")
    t.add_column("path")
    t.add_column("family")
    t.add_column("name")
    for s in specs:
        t.add_row(s["path"], s["family"], s["name"])
    console.print(t)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: also turns usage errors into one line."""
    try:
        rv = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except HirisearchError as e:  # raised outside a command body
        err_console.print(error_line(e.one_line()), markup=False)
        return e.exit_code
    except KeyboardInterrupt:
        err_console.print("hirisearch: interrupted", markup=False)
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the last boundary: one line, never a traceback
        fmt_msg = getattr(e, "format_message", None)
        code = getattr(e, "exit_code", None)
        if callable(fmt_msg) and isinstance(code, int):  # Click usage errors (vendored by Typer)
            ctx = getattr(e, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            err_console.print(f"hirisearch: usage error: {' '.join(fmt_msg().split())}{where}", markup=False)
            return code
        err_console.print(error_line(f"internal error: {type(e).__name__}: {e}"), markup=False)
        return EXIT_INTERNAL
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
