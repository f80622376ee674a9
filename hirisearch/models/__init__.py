"""The registry of model families: an explicit dict, duplicates refused, misses list valid names."""

from __future__ import annotations

from hirisearch.errors import UnknownModelError
from hirisearch.models.base import Family, SpecBase

FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add ``family`` to :data:`FAMILIES`; a second family of the same name is an error."""
    if family.name in FAMILIES:
        raise ValueError(f"family {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    """The family called ``name``, or an error listing the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown family {name!r}; valid: {', '.join(sorted(FAMILIES))}"
        ) from None


def family_of(spec: SpecBase) -> Family:
    return get_family(spec.family)


def _register_builtin() -> None:
    from hirisearch.models import hiri_vit, hrvit, piip, resformer, swin, vit

    for module in (hiri_vit, swin, vit, resformer, hrvit, piip):
        register(module.FAMILY)


_register_builtin()
