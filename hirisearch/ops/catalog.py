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
    img_size: int | tuple[int, int] | None = None
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
        sized = target.at()
    except HirisearchError as e:
        return SpecCheck(file, error=e.one_line())
    total = None if sized.tree is None else sized.tree.total
    return SpecCheck(
        file,
        family=target.family,
        name=target.name,
        img_size=sized.resolution,
        params=None if total is None else total.params,
        macs=None if total is None else total.macs,
    )


@dataclass(frozen=True)
class Catalog:
    """The registered model families and the spec files shipped with them."""

    kind: ClassVar[str] = "list"

    #: (name, title) of every family, sorted by name.
    families: tuple[tuple[str, str], ...]
    #: ``family``, ``name``, ``path`` and ``ref`` (what to type) of every spec file.
    specs: tuple[dict[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        """What ``list --json`` prints."""
        return {"families": [n for n, _ in self.families], "specs": list(self.specs)}


def catalog() -> Catalog:
    """The families and the shipped specs (named ``<family>/<variant>`` from any folder), then the
    spec files under ``./specs`` when that is another folder; search spaces, links and files that
    do not load are left out."""
    from hirisearch.models import FAMILIES
    from hirisearch.spec import load_spec
    from hirisearch.specs import SHIPPED_DIR, shipped_specs

    found = [(name, path, f"specs/{name}.yaml") for name, path in shipped_specs()]
    here = Path.cwd() / "specs"
    if here.is_dir() and here.resolve() != SHIPPED_DIR:
        for path in sorted(here.rglob("*.yaml")):
            if not path.is_symlink() and "search" not in path.relative_to(here).parts:
                shown = str(path.relative_to(Path.cwd()))
                found.append((shown, path, shown))
    specs: list[dict[str, str]] = []
    for ref, path, shown in found:
        try:
            s = load_spec(path)
        except HirisearchError:
            continue
        specs.append({"family": s.family, "name": s.name, "path": shown, "ref": ref})
    families = tuple((name, fam.title) for name, fam in sorted(FAMILIES.items()))
    return Catalog(families, tuple(specs))
