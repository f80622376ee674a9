"""hirisearch: cost, search and comparison of vision backbones for high-resolution inputs.

The Python API (:mod:`hirisearch.api`) is importable from here; ``import hirisearch`` itself loads
nothing heavy, and each function imports what it needs when called::

    import hirisearch
    r = hirisearch.profile("specs/s.yaml", img_size=448)
    r.to_dict()["macs"]

``hirisearch.profile``, ``.compare``, ``.sweep``, ``.bench`` and ``.search`` are the API
functions (any ``nn.Module`` too: ``hirisearch.profile(model, inputs=x)``), ``hirisearch.save_run``
writes the run folder of what they return, and ``hirisearch.register_op_count`` gives a count for
an operator the counter does not know; the operations behind them are
the modules of :mod:`hirisearch.ops` (``from hirisearch.ops.profile import ProfileResult``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = frozenset(
    {
        "as_target", "bench", "build", "compare", "load_spec", "profile", "register_op_count",
        "save_run", "search", "sweep", "unregister_op_count",
    }
)  # fmt: skip
_ERRORS = frozenset({"HirisearchError", "Pruned", "SpecError"})

__all__ = [
    "HirisearchError",
    "Pruned",
    "SpecError",
    "__version__",
    "as_target",
    "bench",
    "build",
    "compare",
    "load_spec",
    "profile",
    "register_op_count",
    "save_run",
    "search",
    "sweep",
    "unregister_op_count",
]

if TYPE_CHECKING:
    from hirisearch.api import (
        as_target,
        bench,
        build,
        compare,
        load_spec,
        profile,
        register_op_count,
        save_run,
        search,
        sweep,
        unregister_op_count,
    )
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
