"""Whole calibration networks, contributed by the model families themselves.

Each registered family may name a few small configurations of its own
(``Family.latency_specs``, built by keyword in the family's file); this module plans, builds and
costs them through the family record alone. It knows no family: a new family with
``latency_specs`` joins the calibration with no edit here.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from hirisearch.latency.microbench import MicroBench
from hirisearch.models.base import Family

__all__ = ["calibration_configs", "config_key", "network_benchmarks"]


def _families(families: Iterable[Family] | None) -> list[Family]:
    if families is not None:
        return list(families)
    from hirisearch.models import FAMILIES

    return list(FAMILIES.values())


def config_key(spec: Any, img_size: int) -> tuple[str, str, int]:
    """What identifies a configuration regardless of its name: family, fields, input size."""
    fields = spec.model_dump_json(exclude={"name", "description", "img_size"})
    return spec.family, fields, img_size


def calibration_configs(
    families: Iterable[Family] | None = None,
) -> list[tuple[Family, Any]]:
    """``(family, spec)`` of every calibration network (each at its spec's ``img_size``)."""
    return [(f, spec) for f in _families(families) for spec in f.latency_specs()]


def _size_label(img_size: Any) -> str:
    """``224`` for a square input (``(224, 224)`` or ``224``), ``HxW`` otherwise: the names stored
    in calibration files stay those of square networks."""
    h, w = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    return str(h) if h == w else f"{h}x{w}"


def network_benchmarks(families: Iterable[Family] | None = None) -> list[MicroBench]:
    """The calibration networks of ``families`` (default: every registered family), timed whole
    (one instance, as ``bench`` times a model)."""
    out = []
    for family, spec in calibration_configs(families):
        plan = family.plan(spec, spec.img_size)
        out.append(
            MicroBench(
                f"network {family.name}:{spec.name} @{_size_label(plan.img_size)}",
                partial(family.build, plan),
                tuple(plan.input_shape),
                family.cost(plan),
                copies=1,
                network=True,
                family=family.name,
            )
        )
    return out
