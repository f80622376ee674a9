"""Objectives: a metric to minimise or maximise (:mod:`hirisearch.ops.search.metrics`), or the
user's code, ``module:function``.

A ``module:function`` objective is imported only when a run starts (after ``--allow-code`` was
checked), with the space file's folder on the import path, and called with a
:class:`~hirisearch.ops.search.trial.CandidateTrial` (spec, ``build()``, ``report``,
``should_prune``). Like the slow metrics, it is computed for feasible candidates only.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hirisearch.errors import ObjectiveError, Pruned, SpecError
from hirisearch.ops.search.metrics import METRICS, Metric
from hirisearch.ops.search.trial import CandidateTrial


@dataclass(frozen=True)
class UserObjective(Metric):
    """A ``module:function`` objective: a slow metric whose value is the user's function of the
    candidate's trial (which may ``report`` progress and be pruned)."""

    call: Callable[[CandidateTrial], float] | None = None


#: ``package.module:function``: dotted identifiers, then one identifier.
_USER_NAME = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
)


def _import(module_name: str, search_dir: str | None) -> Any:
    """Import ``module_name``; the space file's folder is on the import path (appended)."""
    if search_dir and search_dir not in sys.path:
        sys.path.append(search_dir)
    return importlib.import_module(module_name)


def _user(name: str, search_dir: str | None) -> UserObjective:
    module_name, _, attr = name.partition(":")
    try:
        module = _import(module_name, search_dir)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's to fix; one line
        raise SpecError(
            f"cannot import module {module_name!r} of objective {name!r} ({type(e).__name__}: {e})"
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SpecError(f"{module_name!r} has no function {attr!r} (objective {name!r})")

    def run(trial: CandidateTrial) -> float:
        try:
            v = fn(trial)
        except Pruned:
            raise
        except Exception as e:  # noqa: BLE001 - reported as one line naming the objective
            raise ObjectiveError(f"objective {name} raised {type(e).__name__}: {e}") from None
        if trial.pruned:  # should_prune() said so: pruned, whatever the function returned
            raise Pruned()
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise ObjectiveError(f"objective {name} must return a number, but returned {v!r}")
        return float(v)

    return UserObjective(name, "", attr, lambda c, ctx: run(CandidateTrial(c)), slow=True, call=run)


def get_objective(name: str, *, search_dir: str | None = None) -> Metric:
    """The objective called ``name``; a ``module:function`` one is imported here (and only here),
    with ``search_dir`` (the space file's folder) on the import path."""
    check_objective(name)
    if name in METRICS:
        return METRICS[name]
    return _user(name, search_dir)


def check_objective(name: str) -> None:
    """Refuse a name that is neither a registry name nor ``module:function``; imports nothing."""
    if name in METRICS:
        return
    if ":" in name:
        if not _USER_NAME.match(name):
            raise SpecError(
                f"a user objective is `module:function` (dotted identifiers), but got {name!r}"
            )
        return
    raise SpecError(f"unknown objective {name!r}; valid: {', '.join(METRICS)} or `module:function`")


def is_slow(name: str) -> bool:
    """Whether the objective builds a model (user objectives do); imports nothing."""
    return METRICS[name].slow if name in METRICS else True
