"""CLI commands, one module per area; importing a module registers its commands on the app."""

from hirisearch.commands import core  # noqa: F401, I001
from hirisearch.commands import report  # noqa: F401
from hirisearch.commands import sweep  # noqa: F401
