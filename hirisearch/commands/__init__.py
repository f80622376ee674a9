"""CLI commands, one module per area; importing a module registers its commands on the app."""

from hirisearch.commands import (
    core,  # noqa: F401
    search,  # noqa: F401
)
