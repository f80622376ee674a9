"""Objectives: a registry of named numbers to minimise or maximise, and ``module:function``.

Cheap objectives read the analytic cost; slow ones (the training-free proxies) build the model and
are computed for feasible candidates only. Adding predicted latency is one entry reading
:data:`hirisearch.search.budget.METRICS` (see that module).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from hirisearch.errors import HirisearchError, SpecError
from hirisearch.models import get_family
from hirisearch.search import proxies
from hirisearch.search.budget import Candidate
from hirisearch.search.space import ProxySettings


class ObjectiveError(HirisearchError):
    """A user objective failed or returned something that is not a finite number."""


@dataclass(frozen=True)
class ObjectiveContext:
    proxy: ProxySettings
    seed: int = 0


@dataclass(frozen=True)
class ObjectiveDef:
    """``value(candidate, ctx)`` of a valid candidate; ``slow`` ones build the model."""

    name: str
    title: str
    slow: bool
    value: Callable[[Candidate, ObjectiveContext], float]


def _proxy(fn: Callable[..., float]) -> Callable[[Candidate, ObjectiveContext], float]:
    def value(c: Candidate, ctx: ObjectiveContext) -> float:
        assert c.spec is not None
        return fn(get_family(c.spec.family), c.spec, ctx.proxy, seed=ctx.seed)

    return value


OBJECTIVES: dict[str, ObjectiveDef] = {
    "params": ObjectiveDef("params", "params", False, lambda c, ctx: float(c.cost.params)),
    "gmacs": ObjectiveDef("gmacs", "GFLOPs", False, lambda c, ctx: c.cost.macs / 1e9),
    "activations": ObjectiveDef(
        "activations", "activations", False, lambda c, ctx: float(c.cost.acts)
    ),
    "img_size": ObjectiveDef("img_size", "img_size", False, lambda c, ctx: float(c.plan.img_size)),
    "naswot": ObjectiveDef("naswot", "NASWOT", True, _proxy(proxies.naswot)),
    "synflow": ObjectiveDef("synflow", "SynFlow (log10)", True, _proxy(proxies.synflow)),
}


def _user(name: str) -> ObjectiveDef:
    module_name, _, attr = name.partition(":")
    if not module_name or not attr:
        raise SpecError(f"a user objective is `module:function`, but got {name!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's to fix; one line
        raise SpecError(
            f"cannot import module {module_name!r} of objective {name!r} ({type(e).__name__}: {e})"
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SpecError(f"{module_name!r} has no function {attr!r} (objective {name!r})")

    def value(c: Candidate, ctx: ObjectiveContext) -> float:
        try:
            v = fn(c.spec)
        except Exception as e:  # noqa: BLE001 - reported as one line naming the objective
            raise ObjectiveError(f"objective {name} raised {type(e).__name__}: {e}") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise ObjectiveError(f"objective {name} must return a number, but returned {v!r}")
        return float(v)

    return ObjectiveDef(name, attr, True, value)


def get_objective(name: str) -> ObjectiveDef:
    """The objective called ``name`` (a registry name or ``module:function``)."""
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    if ":" in name:
        return _user(name)
    raise SpecError(
        f"unknown objective {name!r}; valid: {', '.join(OBJECTIVES)} or `module:function`"
    )


def check_objective(name: str) -> None:
    get_objective(name)
