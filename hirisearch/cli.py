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

from hirisearch import interrupt
from hirisearch.errors import HirisearchError
from hirisearch.io import json_default

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
EXIT_INTERRUPTED = interrupt.EXIT_INTERRUPTED


def error_line(message: str) -> str:
    return "hirisearch: error: " + " ".join(str(message).split())


@contextmanager
def error_boundary() -> Iterator[None]:
    """Turn library errors into one line on stderr and an exit code; never a traceback."""
    try:
        with interrupt.body():
            yield
    except KeyboardInterrupt:
        interrupt.handled()
        interrupt.report()
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (HirisearchError, MemoryError) as e:
        if interrupt.requested():  # the interrupt surfaced as another error
            interrupt.handled()
            interrupt.report()
            raise typer.Exit(EXIT_INTERRUPTED) from None
        line = e.one_line() if isinstance(e, HirisearchError) else "out of memory"
        err_console.print(error_line(line), markup=False)
        raise typer.Exit(getattr(e, "exit_code", EXIT_INTERNAL)) from None


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
    str | None,
    typer.Option(
        "--input-shape",
        help="Input of factory and torchvision: targets, C,H,W (default 3,R,R; --res sets H,W).",
    ),
]


def resolve_refs(names: Sequence[str], kwargs: str | None, input_shape: str | None) -> list[Any]:
    """The targets of ``names``, ``--kwargs`` and ``--input-shape`` applied to the code targets."""
    from hirisearch.code_targets import parse_input_shape, parse_kwargs, resolve_targets

    return resolve_targets(
        names, kwargs=parse_kwargs(kwargs), input_shape=parse_input_shape(input_shape)
    )


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


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: also turns usage errors into one line."""
    try:
        rv = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except HirisearchError as e:  # raised outside a command body
        err_console.print(error_line(e.one_line()), markup=False)
        return e.exit_code
    except KeyboardInterrupt:
        interrupt.handled()
        interrupt.report()
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the last boundary: one line, never a traceback
        if interrupt.requested():  # the interrupt surfaced as another error
            interrupt.handled()
            interrupt.report()
            return EXIT_INTERRUPTED
        fmt_msg = getattr(e, "format_message", None)
        code = getattr(e, "exit_code", None)
        if callable(fmt_msg) and isinstance(code, int):  # Click usage errors (vendored by Typer)
            ctx = getattr(e, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            err_console.print(
                f"hirisearch: usage error: {' '.join(fmt_msg().split())}{where}", markup=False
            )
            return code
        err_console.print(error_line(f"internal error: {type(e).__name__}: {e}"), markup=False)
        return EXIT_INTERNAL
    return rv if isinstance(rv, int) else 0


# Commands register themselves on ``app`` when their modules are imported.
import hirisearch.commands  # noqa: E402,F401

if __name__ == "__main__":
    raise SystemExit(main())
