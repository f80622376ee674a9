"""The console entry point: ``hirisearch`` (:func:`run`) and ``python -m hirisearch``.

Kept free of heavy imports so that the Ctrl-C handling is in place before torch, Typer and the
commands load (see :mod:`hirisearch.interrupt`).
"""

from __future__ import annotations

from hirisearch import interrupt


def run() -> None:
    interrupt.install()
    from hirisearch.cli import run as run_cli

    run_cli()


if __name__ == "__main__":
    run()
