"""The registry of model families: an explicit table, duplicates refused, misses list valid names.

Each built-in family is named here with the module that defines it; the module is imported the
first time the family is looked up, so loading one family's spec imports no other family (and no
family imports torch: builders live in the ``*_nn`` modules, imported when a model is built).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from hirisearch.errors import UnknownModelError
from hirisearch.models.base import Family

#: Built-in families: name -> module whose ``FAMILY`` describes it.
BUILTIN: dict[str, str] = {
    "hiri_vit": "hirisearch.models.hiri_vit",
    "swin": "hirisearch.models.swin",
    "vit": "hirisearch.models.vit",
    "resformer": "hirisearch.models.resformer",
    "hrvit": "hirisearch.models.hrvit",
    "piip": "hirisearch.models.piip",
}


class FamilyRegistry(Mapping[str, Family]):
    """Family name -> :class:`Family`, importing a built-in family's module on first lookup."""

    def __init__(self, builtin: Mapping[str, str]) -> None:
        self._modules = dict(builtin)
        self._families: dict[str, Family] = {}

    def register(self, family: Family) -> Family:
        """Add ``family``; a second family of the same name is an error."""
        if family.name in self._families or family.name in self._modules:
            raise ValueError(f"family {family.name!r} is already registered")
        self._families[family.name] = family
        return family

    def __getitem__(self, name: str) -> Family:
        fam = self._families.get(name)
        if fam is not None:
            return fam
        module = self._modules[name]  # KeyError for an unknown name, as a Mapping should
        fam = importlib.import_module(module).FAMILY
        if fam.name != name:
            raise ValueError(f"{module}.FAMILY is named {fam.name!r}, registered as {name!r}")
        self._families[name] = fam
        return fam

    def __contains__(self, name: object) -> bool:
        return name in self._families or name in self._modules

    def __iter__(self) -> Iterator[str]:
        yield from self._modules
        yield from (n for n in self._families if n not in self._modules)

    def __len__(self) -> int:
        return len(self._modules.keys() | self._families.keys())

    def unregister(self, name: str) -> None:
        """Remove a family added with :meth:`register` (tests register toy families)."""
        if name in self._modules:
            raise ValueError(f"family {name!r} is built in")
        self._families.pop(name, None)


FAMILIES = FamilyRegistry(BUILTIN)


def register(family: Family) -> Family:
    """Add ``family`` to :data:`FAMILIES`; a second family of the same name is an error."""
    return FAMILIES.register(family)


def get_family(name: str) -> Family:
    """The family called ``name``, or an error listing the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown family {name!r}; valid: {', '.join(sorted(FAMILIES))}"
        ) from None
