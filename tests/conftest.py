"""Shared fixtures. Tests enumerate the registries: a new spec file or family is tested with no
new test code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def shipped_specs() -> list[Path]:
    """Every model spec shipped under specs/ (search spaces and aliases excluded)."""
    return sorted(
        p
        for p in SPECS.rglob("*.yaml")
        if not p.is_symlink() and "search" not in p.relative_to(SPECS).parts
    )


def spec_id(p: Path) -> str:
    return str(p.relative_to(SPECS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA; none on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how many generated hostile inputs the property-based tests ran (issue 8)."""
    from tests import fuzzing

    if fuzzing.COUNTS:
        terminalreporter.write_sep("=", "property-based hardening")
        terminalreporter.write_line(fuzzing.summary())
