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

from hirisearch.train.config import OPTIMIZERS, TrainConfig
from hirisearch.train.cost import TrainCost, TrainModel, train_cost
from hirisearch.train.devices import CUDA_RESERVE_BYTES, DEVICES, parse_memory
from hirisearch.train.memory import MemoryBytes
from hirisearch.train.types import TrainMacs
from hirisearch.train.units import CHECKPOINTS, checkpoint_units

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
