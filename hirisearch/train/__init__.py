"""What a training step costs: MACs of forward and backward, peak memory, the largest batch that
fits, and a timed step.

Torch-free here: :class:`TrainConfig`, :class:`TrainMacs`, the analytic model
(:func:`train_cost`, :class:`TrainModel`) and the devices. The torch side lives in its own
modules, imported by whoever needs it: ``hirisearch.train.trace`` (:func:`traced_train_macs`),
``hirisearch.train.simulate`` (:func:`simulate_train_peak`), ``hirisearch.train.measure``
(:func:`measure_train_peak`), ``hirisearch.train.timing`` (:func:`time_train_step`),
``hirisearch.train.census`` (what the forward pass keeps, per module).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it (imported on first use: the modules here import each
#: other, so an eager ``__init__`` would make an import cycle).
_WHERE = {
    "CHECKPOINTS": "units",
    "CUDA_RESERVE_BYTES": "devices",
    "DEVICES": "devices",
    "OPTIMIZERS": "config",
    "MemoryBytes": "memory",
    "TrainConfig": "config",
    "TrainCost": "cost",
    "TrainMacs": "types",
    "TrainModel": "cost",
    "checkpoint_units": "units",
    "parse_memory": "devices",
    "train_cost": "cost",
}

__all__ = [
    "CHECKPOINTS",
    "CUDA_RESERVE_BYTES",
    "DEVICES",
    "OPTIMIZERS",
    "MemoryBytes",
    "TrainConfig",
    "TrainCost",
    "TrainMacs",
    "TrainModel",
    "checkpoint_units",
    "parse_memory",
    "train_cost",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'hirisearch.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hirisearch.train.{_WHERE[name]}"), name)
