"""The analytic training cost of a model (no torch): MACs and peak memory of a training step for
any configuration, and the largest batch that fits a memory.

``TrainModel.of(family, plan)`` runs the family's training twin once per checkpointing mode and
keeps what it needs; :meth:`TrainModel.cost` then answers a configuration in microseconds.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hirisearch.cost.types import CostNode
from hirisearch.errors import TrainError
from hirisearch.train.config import TrainConfig
from hirisearch.train.devices import Memory, parse_memory
from hirisearch.train.macs import recompute_skips, train_macs, train_macs_per_path
from hirisearch.train.memory import MemoryBytes, MemoryModel, column_of, kept_by_path
from hirisearch.train.tape import Tape
from hirisearch.train.types import TrainMacs
from hirisearch.train.units import Checkpoint, checkpoint_units

__all__ = ["TrainCost", "TrainModel", "train_cost"]


@dataclass(frozen=True)
class TrainCost:
    """One training configuration of one model: MACs of the whole batch, memory on one device,
    and the largest batch per memory asked about (``max_batch``: label -> batch)."""

    config: TrainConfig
    macs: TrainMacs
    memory: MemoryBytes
    max_batch: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.config.to_json(),
            "macs": self.macs.to_json(),
            "memory_bytes": self.memory.to_json(),
            "max_batch": dict(self.max_batch),
        }


class TrainModel:
    """The analytic training cost of one model at one input size (see the module docstring).

    Args:
        tree: the model's cost tree.
        plan: its plan.
        train: the family's training twin, ``train(plan, tape) -> output``.
        uncalled_stages: block holders the model never calls as one module.
    """

    _cache: OrderedDict[Any, TrainModel] = OrderedDict()
    CACHE_SIZE = 256

    def __init__(
        self,
        tree: CostNode,
        plan: Any,
        train: Any,
        uncalled_stages: Iterable[str] = (),
    ) -> None:
        self.tree = tree
        self.plan = plan
        self._train = train
        self._uncalled = tuple(uncalled_stages)
        self.input_elements = math.prod(plan.input_shape)
        self._tapes: dict[str, Tape] = {}
        self._memory: dict[str, MemoryModel] = {}
        self._macs: dict[str, dict[str, TrainMacs]] = {}
        self._total: dict[str, TrainMacs] = {}

    @classmethod
    def of(cls, family: Any, plan: Any, tree: CostNode | None = None) -> TrainModel:
        """The model of ``family`` at ``plan`` (cached: a search asks for the same plans; a
        given ``tree`` is part of the key, as a task model's training tree differs from its
        inference tree)."""
        if family.train is None:
            raise TrainError(
                f"family {family.name!r} has no training twin: its training memory can be "
                "simulated, not computed"
            )
        key = (family.name, plan, None if tree is None else tree.total)
        model = cls._cache.get(key)
        if model is None:
            model = cls(tree or family.cost(plan), plan, family.train, family.uncalled_stages(plan))
            cls._cache[key] = model
            if len(cls._cache) > cls.CACHE_SIZE:
                cls._cache.popitem(last=False)
        return model

    def units(self, checkpoint: Checkpoint) -> tuple[str, ...]:
        """The module paths ``checkpoint`` wraps."""
        return checkpoint_units(self.tree, checkpoint, not_called=self._uncalled)

    def tape(self, checkpoint: Checkpoint = "none") -> Tape:
        """The training twin's tape (with the loss), checkpointed as asked."""
        tape = self._tapes.get(checkpoint)
        if tape is None:
            tape = Tape(units=frozenset(self.units(checkpoint)))
            out = self._train(self.plan, tape)
            tape.loss(out if isinstance(out, list) else [out])
            self._tapes[checkpoint] = tape
        return tape

    def memory_model(self, checkpoint: Checkpoint = "none") -> MemoryModel:
        model = self._memory.get(checkpoint)
        if model is None:
            model = MemoryModel(self.tape(checkpoint), self.tree.total.params, self.input_elements)
            self._memory[checkpoint] = model
        return model

    def macs_per_path(self, checkpoint: Checkpoint = "none") -> dict[str, TrainMacs]:
        """Training MACs per sample at every module path."""
        macs = self._macs.get(checkpoint)
        if macs is None:
            tape = self.tape(checkpoint)
            macs = train_macs_per_path(
                self.tree,
                no_input_grad=tape.no_input_grad,
                dead=tape.dead,
                units=self.units(checkpoint),
                skips=recompute_skips(tape),
            )
            self._macs[checkpoint] = macs
        return macs

    def macs(self, checkpoint: Checkpoint = "none") -> TrainMacs:
        """Training MACs per sample of the whole model."""
        macs = self._total.get(checkpoint)
        if macs is None:
            tape = self.tape(checkpoint)
            macs = self._total[checkpoint] = train_macs(
                self.tree,
                no_input_grad=tape.no_input_grad,
                dead=tape.dead,
                units=self.units(checkpoint),
                skips=recompute_skips(tape),
            )
        return macs

    def cost(self, config: TrainConfig, memories: Iterable[str | int | Memory] = ()) -> TrainCost:
        """MACs and memory of a step under ``config``, and the largest batch per memory."""
        per_sample = self.macs(config.checkpoint)
        memory = self.memory_model(config.checkpoint)
        fits = {}
        for m in memories:
            mem = m if isinstance(m, Memory) else parse_memory(m)
            fits[mem.label] = memory.max_batch(config, mem.usable)
        return TrainCost(config, per_sample.scaled(config.batch), memory.bytes(config), fits)

    def activations_by_path(self, config: TrainConfig) -> dict[str, int]:
        """Bytes each module path keeps for the backward pass under ``config`` (descendants
        included; autocast's weight copies apart), e.g. per stage for a report."""
        tape = self.tape(config.checkpoint)
        return kept_by_path(tape, column_of(config), config.batch)

    def max_batch(self, config: TrainConfig, memory: str | int | Memory) -> int:
        """The largest batch whose step fits ``memory`` (less the reserve; ``config.batch`` is
        ignored)."""
        mem = memory if isinstance(memory, Memory) else parse_memory(memory)
        return self.memory_model(config.checkpoint).max_batch(config, mem.usable)


def train_cost(
    family: Any,
    plan: Any,
    config: TrainConfig,
    *,
    tree: CostNode | None = None,
    memories: Iterable[str | int | Memory] = (),
) -> TrainCost:
    """The analytic training cost of ``family`` at ``plan`` under ``config`` (torch-free)."""
    return TrainModel.of(family, plan, tree).cost(config, memories)
