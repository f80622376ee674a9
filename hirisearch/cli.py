"""The command-line interface: each command loads, calls the library, renders. Errors become one
line on stderr and a non-zero exit code here, and only here."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from hirisearch import interrupt
from hirisearch.commands import bench, compare, core, report, search, sweep
from hirisearch.commands.common import EXIT_INTERRUPTED, err_console, error_line
from hirisearch.errors import HirisearchError

app = typer.Typer(
    name="hirisearch",
    help="Cost, search and comparison of vision backbones for high-resolution inputs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


EXIT_INTERNAL = 70


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


def with_error_boundary(fn: Callable[..., int | None]) -> Callable[..., None]:
    """``fn`` with the error boundary around its body (Typer reads the wrapped signature); the
    exit status a command returns (``validate``: 2 for an invalid file; ``bench``, ``search``:
    130 once they have saved what an interrupt left) becomes the exit code."""

    @functools.wraps(fn)
    def inner(*a: Any, **kw: Any) -> None:
        with error_boundary():
            status = fn(*a, **kw)
        if status:
            raise typer.Exit(status)

    return inner


#: Every command, registered here and only here: (name, function).
COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("profile", core.profile),
    ("compare", compare.compare),
    ("sweep", sweep.sweep),
    ("bench", bench.bench),
    ("calibrate", bench.calibrate),
    ("search", search.search),
    ("report", report.report),
    ("validate", core.validate),
    ("list", core.list_),
)
for _name, _fn in COMMANDS:
    app.command(name=_name)(with_error_boundary(_fn))


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


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """End the process with the status of :func:`main` (:func:`hirisearch.__main__.run` has
    installed the Ctrl-C handling first)."""
    raise SystemExit(interrupt.finish(main(argv)))


if __name__ == "__main__":
    run()
