"""Objectives: a registry of named numbers to minimise or maximise, and ``module:function``.

A ``module:function`` objective is the user's code: it is imported only when a run starts (after
``--allow-code`` was checked), with the space file's folder on the import path, and called with a
:class:`~hirisearch.ops.search.trial.CandidateTrial` (spec, ``build()``, ``report``, ``should_prune``).

Cheap objectives read the analytic cost (and ``latency_ms``, the latency predicted from the
device's calibration); slow ones build the model and are computed for feasible candidates only:
the training-free proxies and ``latency_measured_ms``, the forward pass timed on the space's device.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hirisearch.errors import ObjectiveError, Pruned, SpecError
from hirisearch.models import get_family
from hirisearch.ops.search.budget import METRICS, Candidate, EvalContext
from hirisearch.ops.search.trial import CandidateTrial
from hirisearch.ops.search.types import ProxySettings


@dataclass(frozen=True)
class ObjectiveContext:
    proxy: ProxySettings
    seed: int = 0
    calibration: Any = None  # for ``latency_ms``
    device: str = "cpu"  # for ``latency_measured_ms``


@dataclass(frozen=True)
class ObjectiveDef:
    """``value(candidate, ctx)`` of a valid candidate; ``slow`` ones build the model."""

    name: str
    title: str
    slow: bool
    value: Callable[[Candidate, ObjectiveContext], float]
    #: A user objective: called with the candidate's trial (report, should_prune, build).
    user: Callable[[CandidateTrial], float] | None = None


def _proxy(name: str) -> Callable[[Candidate, ObjectiveContext], float]:
    def value(c: Candidate, ctx: ObjectiveContext) -> float:
        from hirisearch.ops.search import proxies  # torch: only when a proxy is computed

        if c.spec is None:
            raise ObjectiveError(f"proxy {name} of an invalid candidate")
        fn = getattr(proxies, name)
        return float(fn(get_family(c.spec.family), c.spec, ctx.proxy, seed=ctx.seed))

    return value


def _predicted_ms(c: Candidate, ctx: ObjectiveContext) -> float:
    return METRICS["latency_ms"].value(c, EvalContext(ctx.calibration))


#: How long ``latency_measured_ms`` times each candidate (seconds), after a short warm-up.
MEASURE_S = 0.5


def _measured_ms(c: Candidate, ctx: ObjectiveContext) -> float:
    """Median forward latency (ms, batch 1, fp32) on the space's device, timed after a warm-up."""
    import torch

    from hirisearch.cost.memory import estimate_memory
    from hirisearch.latency.device import ensure_fits
    from hirisearch.latency.measure import BenchOptions, measure_forward, prepare_model

    if c.spec is None or c.plan is None or c.tree is None:
        raise ObjectiveError("latency_measured_ms of an invalid candidate")
    family = get_family(c.spec.family)
    device = torch.device(ctx.device)
    est = estimate_memory(c.tree, c.plan.input_shape, batch=1, dtype="fp32")
    ensure_fits(est.total_bytes, ctx.device, what=f"timing {c.plan.name} at {c.plan.img_size}")
    opts = BenchOptions(device=device, warmup_s=0.1, min_time_s=MEASURE_S, min_runs=3)
    model, _ = prepare_model(family.build(c.plan), opts)
    x = torch.randn(1, *c.plan.input_shape, device=device)
    summary, _, _ = measure_forward(model, x, opts)
    return float(summary.median_ms)


OBJECTIVES: dict[str, ObjectiveDef] = {
    "params": ObjectiveDef("params", "params", False, lambda c, ctx: float(c.cost.params)),
    "gmacs": ObjectiveDef("gmacs", "GFLOPs", False, lambda c, ctx: c.cost.macs / 1e9),
    "activations": ObjectiveDef(
        "activations", "activations", False, lambda c, ctx: float(c.cost.acts)
    ),
    "img_size": ObjectiveDef("img_size", "img_size", False, lambda c, ctx: float(c.plan.img_size)),
    "latency_ms": ObjectiveDef("latency_ms", "predicted latency (ms)", False, _predicted_ms),
    "latency_measured_ms": ObjectiveDef(
        "latency_measured_ms", "measured latency (ms)", True, _measured_ms
    ),
    "naswot": ObjectiveDef("naswot", "NASWOT", True, _proxy("naswot")),
    "synflow": ObjectiveDef("synflow", "SynFlow (log10)", True, _proxy("synflow")),
}


#: ``package.module:function``: dotted identifiers, then one identifier.
_USER_NAME = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
)


def _import(module_name: str, search_dir: str | None) -> Any:
    """Import ``module_name``; the space file's folder is on the import path (appended)."""
    if search_dir and search_dir not in sys.path:
        sys.path.append(search_dir)
    return importlib.import_module(module_name)


def _user(name: str, search_dir: str | None) -> ObjectiveDef:
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

    return ObjectiveDef(name, attr, True, lambda c, ctx: run(CandidateTrial(c)), user=run)


def get_objective(name: str, *, search_dir: str | None = None) -> ObjectiveDef:
    """The objective called ``name``; a ``module:function`` one is imported here (and only here),
    with ``search_dir`` (the space file's folder) on the import path."""
    check_objective(name)
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    return _user(name, search_dir)


def check_objective(name: str) -> None:
    """Refuse a name that is neither a registry name nor ``module:function``; imports nothing."""
    if name in OBJECTIVES:
        return
    if ":" in name:
        if not _USER_NAME.match(name):
            raise SpecError(
                f"a user objective is `module:function` (dotted identifiers), but got {name!r}"
            )
        return
    raise SpecError(
        f"unknown objective {name!r}; valid: {', '.join(OBJECTIVES)} or `module:function`"
    )


def is_slow(name: str) -> bool:
    """Whether the objective builds a model (user objectives do); imports nothing."""
    return OBJECTIVES[name].slow if name in OBJECTIVES else True
