"""CLI commands, one module per area; importing a module registers its commands on the app."""

from hirisearch.commands import core  # noqa: F401
from hirisearch.commands import compare  # noqa: F401
