"""The parity harnesses every layer and model test uses.

- :func:`assert_twin`: a layer's cost twin against the built layer (params exactly, every counted
  field against torch's FlopCounterMode on the meta device, an independent count).
- :func:`assert_parity`: a family's analytic cost tree against the built model and its traced
  count at every module path; :func:`assert_task_parity` the same for a backbone under a task's
  neck and head (:mod:`hirisearch.tasks`), :func:`assert_plan_parity` for any plan, tree and
  builder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from hirisearch.cost.counters import count_module, count_traced
from hirisearch.cost.types import Cost, CostNode
from hirisearch.models import get_family
from hirisearch.models.base import SpecBase
from hirisearch.models.resolution import Size, as_hw
from hirisearch.tasks.model import cost_task, plan_task
from hirisearch.tasks.model_nn import build_task
from hirisearch.tasks.presets import TaskPreset

#: Every field of a :class:`Cost`: a twin must match the traced count on each.
FIELDS = ("params", "conv", "linear", "attn", "other", "norm", "acts")
#: Relative difference allowed between analytic and traced MACs of a whole model.
MAC_TOLERANCE = 1e-3


class OnGrid(nn.Module):
    """Runs a token layer that takes ``(x, hw)`` on a (B, N, C) input laid out on ``hw``."""

    def __init__(self, inner: nn.Module, hw: tuple[int, int]) -> None:
        super().__init__()
        self.inner, self.hw = inner, hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x, self.hw)


class OnPyramid(nn.Module):
    """Runs a neck or head that takes a list of maps on one (B, sum(chs), H, W) input: level
    ``i`` is the next ``chs[i]`` channels, every ``2**i``-th row and column (slicing counts no
    work), so the levels' grids are ``ceil(H / 2**i) x ceil(W / 2**i)``."""

    def __init__(self, inner: nn.Module, chs: tuple[int, ...]) -> None:
        super().__init__()
        self.inner, self.chs = inner, chs

    @staticmethod
    def grids(hw: tuple[int, int], levels: int) -> tuple[tuple[int, int], ...]:
        return tuple((-(-hw[0] // 2**i), -(-hw[1] // 2**i)) for i in range(levels))

    def forward(self, x: torch.Tensor) -> object:
        feats, start = [], 0
        for i, c in enumerate(self.chs):
            feats.append(x[:, start : start + c, :: 2**i, :: 2**i])
            start += c
        return self.inner(feats)


def assert_twin(
    layer: nn.Module,
    node: CostNode,
    input_shape: tuple[int, ...],
    *,
    wrap: Callable[[nn.Module], nn.Module] | None = None,
) -> None:
    """The cost twin ``node`` equals ``layer`` (built on the meta device).

    The layer runs on one ``(1, *input_shape)`` input, directly or through ``wrap(layer)``, a
    module holding it as ``inner`` that cuts the one input into what the layer takes (slicing
    does no counted work). Checked: params == ``numel()``; every field of :data:`FIELDS` ==
    the traced count; every node of the twin is a submodule of the layer, with its params.
    """
    model = wrap(layer) if wrap is not None else nn.Sequential(layer)
    prefix = "inner" if wrap is not None else "0"
    assert getattr(model, prefix) is layer, f"the wrapper must hold the layer as {prefix!r}"
    traced = count_module(model, input_shape, with_acts=True)
    got = traced.per_path.get(prefix, Cost())  # a layer doing nothing counted is absent
    assert node.total.params == sum(p.numel() for p in layer.parameters())
    for field in FIELDS:
        assert getattr(node.total, field) == getattr(got, field), field
    names = dict(layer.named_modules())
    for path, sub in node.walk():
        assert path in names, path
        assert traced.per_path[f"{prefix}.{path}"].params == sub.total.params, path


@dataclass(frozen=True)
class TwinCase:
    """One parametrisation of :func:`assert_twin`: ``make(device=...)`` builds the layer,
    ``cost()`` gives its twin."""

    name: str
    make: Callable[..., nn.Module]
    cost: Callable[[], CostNode]
    input_shape: tuple[int, ...]
    wrap: Callable[[nn.Module], nn.Module] | None = None

    def check(self) -> None:
        with torch.device("meta"):
            layer = self.make(device="meta")
        assert_twin(layer, self.cost(), self.input_shape, wrap=self.wrap)


def _close(a: int, b: int, tolerance: float) -> bool:
    return a == b or abs(a - b) <= tolerance * max(abs(a), abs(b))


def assert_parity(spec: SpecBase, size: Size | None, *, tolerance: float = MAC_TOLERANCE) -> None:
    """Analytic == built params and == traced MACs/norms/acts (within ``tolerance``) at every
    module path of ``spec`` planned at ``size`` (an int: a square; ``None``: the spec's own)."""
    family = get_family(spec.family)
    plan = family.plan(spec, None if size is None else as_hw(size))
    assert_plan_parity(plan, family.cost(plan), family.build, tolerance=tolerance)


def assert_task_parity(
    spec: SpecBase,
    task: str | TaskPreset,
    size: Size | None = None,
    *,
    tolerance: float = MAC_TOLERANCE,
) -> None:
    """:func:`assert_parity` for ``spec``'s backbone under the task ``task`` (a preset or its
    name) at ``size`` (``None``: the preset's): every module path of backbone, neck and head."""
    plan = plan_task(spec, task, size)
    tree = cost_task(plan)
    assert tuple(name for name, _ in tree.children) == plan.parts
    assert_plan_parity(plan, tree, build_task, tolerance=tolerance)


def assert_plan_parity(
    plan: Any, tree: CostNode, build: Callable[..., nn.Module], *, tolerance: float = MAC_TOLERANCE
) -> None:
    """``tree`` (the analytic cost of ``plan``) against ``build(plan)``: params == ``numel()``
    and traced MACs/norms/acts (within ``tolerance``) at every module path of the tree, and at
    every section of the plan."""
    traced = count_traced(partial(build, plan), plan.input_shape, with_acts=True, allow_eager=False)
    with torch.device("meta"):
        model = build(plan, device="meta")
    modules = dict(model.named_modules())
    assert tree.total.params == sum(p.numel() for p in model.parameters())
    for mpath, cost in tree.flatten().items():
        assert mpath in modules, f"analytic path {mpath!r} is not a module of the built model"
        t = traced.per_path.get(mpath)
        assert t is not None, f"no traced count at {mpath!r}"
        assert cost.params == t.params, (
            f"params at {mpath!r}: analytic {cost.params} != built {t.params}"
        )
        for field in FIELDS[1:]:
            a, b = getattr(cost, field), getattr(t, field)
            assert _close(a, b, tolerance), f"{field} at {mpath!r}: analytic {a} != traced {b}"
    for label, section in plan.sections:
        a, b = tree.child(section).total.macs, traced.per_path[section].macs
        assert _close(a, b, tolerance), f"{label}: analytic {a} != traced {b}"
