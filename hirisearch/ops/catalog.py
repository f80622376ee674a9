"""What ``validate`` and ``list`` report: whether a spec file plans at its own size (and what it
costs there), and the model families with the shipped spec files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hirisearch.errors import HirisearchError

__all__ = ["Catalog", "SpecCheck", "catalog", "check_spec"]


@dataclass(frozen=True)
class SpecCheck:
    """One spec file checked: ``error`` is the one-line message when it is not valid."""

    file: str
    error: str = ""
    family: str = ""
    name: str = ""
    img_size: int | None = None
    params: int | None = None  # None: no analytic cost model
    macs: int | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def check_spec(file: str) -> SpecCheck:
    """Resolve ``file``, plan it at its own size and cost it (schema, invariants, sizes)."""
    from hirisearch.targets import resolve

    try:
        target = resolve(file)
        plan = target.plan()
        cost = target.cost(plan)
    except HirisearchError as e:
        return SpecCheck(file, error=e.one_line())
    return SpecCheck(
        file,
        family=target.family,
        name=target.name,
        img_size=getattr(plan, "img_size", None),
        params=None if cost is None else cost.total.params,
        macs=None if cost is None else cost.total.macs,
    )


@dataclass(frozen=True)
class Catalog:
    """The registered model families and the spec files shipped with them."""

    kind: ClassVar[str] = "list"

    #: (name, title) of every family, sorted by name.
    families: tuple[tuple[str, str], ...]
    #: ``family``, ``name`` and ``path`` of every spec file.
    specs: tuple[dict[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        """What ``list --json`` prints."""
        return {"families": [n for n, _ in self.families], "specs": list(self.specs)}


def _spec_dirs() -> list[Path]:
    here = Path.cwd() / "specs"
    shipped = Path(__file__).resolve().parents[2] / "specs"  # the repository root
    return [d for d in dict.fromkeys([here, shipped]) if d.is_dir()]


def catalog() -> Catalog:
    """The families, and the spec files of ``./specs`` (or else the repository's own ``specs/``);
    search spaces, links and files that do not load are left out."""
    from hirisearch.models import FAMILIES
    from hirisearch.spec import load_spec

    specs: list[dict[str, str]] = []
    for d in _spec_dirs()[:1]:
        for path in sorted(d.rglob("*.yaml")):
            if path.is_symlink() or "search" in path.relative_to(d).parts:
                continue
            try:
                s = load_spec(path)
            except HirisearchError:
                continue
            specs.append(
                {"family": s.family, "name": s.name, "path": str(path.relative_to(d.parent))}
            )
    families = tuple((name, fam.title) for name, fam in sorted(FAMILIES.items()))
    return Catalog(families, tuple(specs))
