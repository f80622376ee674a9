"""hirisearch: cost, search and comparison of vision backbones for high-resolution inputs.

The Python API (:mod:`hirisearch.api`) is importable from here; ``import hirisearch`` itself loads
nothing heavy, and each function imports what it needs when called::

    import hirisearch
    r = hirisearch.profile("specs/s.yaml", img_size=448)
    r.to_dict()["macs"]

``hirisearch.ops.profile``, ``.compare``, ``.sweep`` and ``.search`` are the API functions; the modules
of the same names stay importable as ``from hirisearch.ops.profile import ProfileResult``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = frozenset({"as_target", "build", "compare", "load_spec", "profile", "search", "sweep"})
_ERRORS = frozenset({"HirisearchError", "Pruned", "SpecError"})

__all__ = [
    "HirisearchError",
    "Pruned",
    "SpecError",
    "__version__",
    "as_target",
    "build",
    "compare",
    "load_spec",
    "profile",
    "search",
    "sweep",
]

if TYPE_CHECKING:
    from hirisearch.api import as_target, build, compare, load_spec, profile, search, sweep
    from hirisearch.errors import HirisearchError, Pruned, SpecError


def __getattr__(name: str) -> Any:
    if name in _API:
        from hirisearch import api

        value = getattr(api, name)
    elif name in _ERRORS:
        from hirisearch import errors

        value = getattr(errors, name)
    else:
        raise AttributeError(f"module 'hirisearch' has no attribute {name!r}")
    globals()[name] = value
    return value
