"""The specs and search spaces shipped inside the package, named ``<family>/<variant>``.

A shipped spec is found by name from any directory and after a plain ``pip install``:
``hiri_vit/s`` is ``hirisearch/specs/hiri_vit/s.yaml`` and ``search/hiri_vit_5g`` the shipped
search space of that name. A path that exists always wins over a shipped name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["SHIPPED_DIR", "locate", "shipped_name", "shipped_specs"]

#: The folder of shipped specs (package data; ``specs/`` in a clone points here).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "specs"
#: The folder of shipped search spaces, below :data:`SHIPPED_DIR`.
SPACES = "search"
_NAME = re.compile(r"[a-z0-9_]+/[A-Za-z0-9_.-]+")


def shipped_name(ref: str | os.PathLike[str]) -> Path | None:
    """The shipped file a name like ``hiri_vit/s`` (or ``hiri_vit/s.yaml``) stands for, if any."""
    name = os.fspath(ref)
    if not _NAME.fullmatch(name):
        return None
    stem = name[:-5] if name.endswith(".yaml") else name
    path = SHIPPED_DIR / f"{stem}.yaml"
    return path if path.is_file() else None


def locate(ref: str | os.PathLike[str]) -> Path:
    """``ref`` itself where it exists (or is no shipped name), else the shipped file it names."""
    path = Path(ref)
    if path.exists():
        return path
    return shipped_name(ref) or path


def shipped_specs() -> list[tuple[str, Path]]:
    """``(name, path)`` of every shipped model spec (search spaces and aliases left out)."""
    out = []
    for path in sorted(SHIPPED_DIR.glob("*/*.yaml")):
        if path.parent.name != SPACES:
            out.append((f"{path.parent.name}/{path.stem}", path))
    return out
