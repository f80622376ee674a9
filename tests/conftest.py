"""Shared fixtures. Tests enumerate the registries: a new spec file or family is tested with no
new test code."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

#: Sets SIGINT's disposition (``sys.argv[1]``: "SIG_DFL" or "SIG_IGN") in a fresh interpreter, then
#: replaces it with the command in the rest of its argv (same process, same pipes).
_EXEC_WITH_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, getattr(signal, sys.argv[1])); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def with_sigint(argv: Sequence[str], disposition: str = "SIG_DFL") -> list[str]:
    """``argv`` run with SIGINT at ``disposition`` whatever this process's is.

    A suite started as a background job of a non-interactive shell has SIGINT ignored, and an
    ignored disposition survives fork and exec, so its subprocesses would start ignoring it too,
    unlike a command a user starts. The disposition is set in the child before the exec (not with
    ``preexec_fn``, which is unsafe in a process with threads, as torch's).
    """
    if disposition not in ("SIG_DFL", "SIG_IGN"):
        raise ValueError(f"disposition must be 'SIG_DFL' or 'SIG_IGN', but got {disposition!r}")
    return [sys.executable, "-S", "-c", _EXEC_WITH_SIGINT, disposition, *argv]


def shipped_specs() -> list[Path]:
    """Every model spec shipped under specs/ (search spaces and aliases excluded)."""
    return sorted(
        p
        for p in SPECS.rglob("*.yaml")
        if not p.is_symlink() and "search" not in p.relative_to(SPECS).parts
    )


def spec_id(p: Path) -> str:
    return str(p.relative_to(SPECS))


#: The specs of the PIIP paper's published rows (specs/piip_rows/) that stand for a structure no
#: other shipped spec has. The other rows repeat one of these (or another shipped PIIP spec) at
#: other sizes: the per-spec build-and-trace tests leave them out (:func:`structural_specs`), and
#: every row's cost is checked against the paper in tests/models/test_piip_rows.py.
PIIP_ROW_STRUCTURES = {
    "tsb_det_1120_cross_int1",  # regular cross-attention interactions
    "tsb_det_1120_int0",  # no interactions
    "tsb_direction_v2",  # one-way units and a non-adjacent pair
    "tsb_direct_448_672_896",  # a branch with global blocks among windows, not inverted
    "tsb_seg_896_448_336",  # a window larger than its branch's grid
    "tsbl_det_1344_896_672_448",  # four branches with windows
    "lh6b_seg_640_512_192",  # InternViT-6B branch, fused MLP, interactions in the first layers
    "piip_b_scratch_512_256_128",  # merged output with windows in one branch
    "vit_b_seg_640",  # single ViT with windows larger than half the grid
}


def structural_specs() -> list[Path]:
    """The shipped specs the per-spec build-and-trace tests run: every one but the PIIP rows that
    repeat another spec's structure at other sizes (:data:`PIIP_ROW_STRUCTURES`)."""
    return [
        p for p in shipped_specs() if p.parent.name != "piip_rows" or p.stem in PIIP_ROW_STRUCTURES
    ]


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
