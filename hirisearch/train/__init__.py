"""What a training step costs: MACs of forward and backward, peak memory, the largest batch that
fits, and a timed step.

Torch-free: :class:`TrainConfig` (``train.config``), :class:`TrainMacs` (``train.types``), the
analytic model (:func:`train_cost`, :class:`TrainModel`: ``train.cost``; the tape of what each
operator keeps: ``train.tape``; the memory model: ``train.memory``) and the devices
(``train.devices``). The torch side lives in its own modules, imported by whoever needs it:
``train.trace`` (:func:`traced_train_macs`), ``train.simulate`` (:func:`simulate_train_peak`),
``train.measure`` (:func:`measure_train_peak`), ``train.timing`` (:func:`time_train_step`),
``train.census`` (what the forward pass keeps, per module), ``train.traced_cost``
(:func:`simulated_train_cost`: the cost of a model without an analytic twin).

The names below are also reachable from this package, imported on first use (so that importing a
submodule does not import the others).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CHECKPOINTS": "units",
    "checkpoint_units": "units",
    "OPTIMIZERS": "config",
    "TrainConfig": "config",
    "TrainCost": "cost",
    "TrainModel": "cost",
    "train_cost": "cost",
    "CUDA_RESERVE_BYTES": "devices",
    "DEVICES": "devices",
    "parse_memory": "devices",
    "MemoryBytes": "memory",
    "TrainMacs": "types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hirisearch.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hirisearch.train.{module}"), name)
