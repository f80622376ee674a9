"""CLI commands, one module per area; :mod:`hirisearch.cli` registers each one explicitly."""
