"""Helpers shared by the training tests: one representative spec per family."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from hirisearch.models import get_family
from hirisearch.spec import load_spec
from tests.conftest import SPECS

#: One small spec per family, for the tests that simulate or run a step.
FAMILY_SPECS = {
    "vit": SPECS / "deit" / "t.yaml",
    "swin": SPECS / "swin" / "t.yaml",
    "resformer": SPECS / "resformer" / "t.yaml",
    "hiri_vit": SPECS / "hiri_vit" / "s.yaml",
    "hrvit": SPECS / "hrvit" / "b1.yaml",
    "piip": SPECS / "piip" / "tsb_cls_368.yaml",
}


def sized(path: Path, size: int | None = None) -> tuple[Any, Any, Any]:
    """(family, plan, build) of the spec at ``path`` at ``size`` (default: its first test
    size)."""
    spec = load_spec(path)
    family = get_family(spec.family)
    plan = family.plan(spec, size if size is not None else family.test_sizes(spec)[0])
    return family, plan, partial(family.build, plan)
