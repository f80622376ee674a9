"""The registry of task parts: the necks and heads a dense backbone can be put under.

A part is one torch-free module of this package (``tasks/<part>.py``: its config, plan, cost and
``PART``) whose ``nn.Module`` half is built through ``PART.build`` (a ``LazyCallable`` into
``tasks/<part>_nn.py``). :data:`PARTS` names each built-in part by one line; its module is
imported only when the part is looked up, so naming a head imports no other part.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from hirisearch.cost.types import CostNode
from hirisearch.errors import UnknownModelError
from hirisearch.tasks.pyramid import Hw, Pyramid

if TYPE_CHECKING:
    from torch import nn


class PartConfig(BaseModel):
    """Base of every part's settings: frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _no_conventions(plan: Any) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Part:
    """A neck or a head: ``config -> plan(config, pyramid, img_hw) -> (cost(plan), build(plan))``.

    A part's plan is a frozen dataclass holding every derived number; a neck's plan has ``out``,
    the :data:`Pyramid` it hands on. ``build(plan, *, device=None, dtype=None)`` returns the
    module: a neck's ``forward(feats: list[Tensor]) -> list[Tensor]``, a head's
    ``forward(feats) -> Tensor | tuple[Tensor, ...]`` (no data-dependent shapes, so the meta device
    traces it). ``conventions(plan)``: one-line statements of what the part counts, printed with
    the task's figures. ``train(plan, tape, feats) -> list[Sym] | Sym``: the part's training
    twin (:mod:`hirisearch.train.tape`), the operators of its forward on the input maps
    ``feats`` at the part's module paths (the caller enters the part's own path); none: the part
    has no twin, so the training cost of a task model using it is not computed.
    """

    name: str
    kind: Literal["neck", "head"]
    title: str
    config: type[BaseModel]
    plan: Callable[[Any, Pyramid, Hw], Any]
    cost: Callable[[Any], CostNode]
    build: Callable[..., nn.Module]
    conventions: Callable[[Any], tuple[str, ...]] = _no_conventions
    train: Callable[[Any, Any, list[Any]], Any] | None = None


#: Built-in parts: name -> module whose ``PART`` describes it (one line per part).
BUILTIN: dict[str, str] = {
    "upernet": "hirisearch.tasks.upernet",
    "segformer": "hirisearch.tasks.segformer",
    "fpn": "hirisearch.tasks.fpn",
    "sfp": "hirisearch.tasks.sfp",
    "mask_rcnn": "hirisearch.tasks.mask_rcnn",
    "semantic_fpn": "hirisearch.tasks.semantic_fpn",
}


class PartRegistry(Mapping[str, Part]):
    """Part name -> :class:`Part`, importing a built-in part's module on first lookup."""

    def __init__(self, builtin: Mapping[str, str]) -> None:
        self._modules = dict(builtin)
        self._parts: dict[str, Part] = {}

    def register(self, part: Part) -> Part:
        """Add ``part``; a second part of the same name is an error."""
        if part.name in self._parts or part.name in self._modules:
            raise ValueError(f"part {part.name!r} is already registered")
        self._parts[part.name] = part
        return part

    def unregister(self, name: str) -> None:
        """Remove a part added with :meth:`register` (tests register toy parts)."""
        if name in self._modules:
            raise ValueError(f"part {name!r} is built in")
        self._parts.pop(name, None)

    def __getitem__(self, name: str) -> Part:
        part = self._parts.get(name)
        if part is not None:
            return part
        module = self._modules[name]  # KeyError for an unknown name, as a Mapping should
        part = importlib.import_module(module).PART
        if part.name != name:
            raise ValueError(f"{module}.PART is named {part.name!r}, registered as {name!r}")
        self._parts[name] = part
        return part

    def __contains__(self, name: object) -> bool:
        return name in self._parts or name in self._modules

    def __iter__(self) -> Iterator[str]:
        yield from self._modules
        yield from (n for n in self._parts if n not in self._modules)

    def __len__(self) -> int:
        return len(self._modules.keys() | self._parts.keys())


PARTS = PartRegistry(BUILTIN)


def get_part(name: str, kind: Literal["neck", "head"] | None = None) -> Part:
    """The part called ``name`` (of ``kind`` when given), or an error listing the valid names."""
    if name not in PARTS:
        valid = ", ".join(sorted(PARTS))
        raise UnknownModelError(f"unknown {kind or 'part'} {name!r}; valid: {valid}")
    part = PARTS[name]
    if kind is not None and part.kind != kind:
        raise UnknownModelError(f"{name!r} is a {part.kind}, not a {kind}")
    return part
