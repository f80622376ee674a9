"""CLI commands, one module per area; importing a module registers its commands on the app."""

from hirisearch.commands import (
    compare,  # noqa: F401
    core,  # noqa: F401
)
