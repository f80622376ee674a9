"""CLI commands, one module per area; importing a module registers its commands on the app."""

from hirisearch.commands import (  # noqa: F401
    bench,
    compare,
    core,
    report,
    search,
    sweep,
)
