"""What a training step costs: MACs of forward and backward, peak memory, the largest batch that
fits, and a timed step.

Torch-free here: :class:`TrainConfig`, :class:`TrainMacs` and the analytic model. The torch side
lives in its own modules, imported by whoever needs it: ``hirisearch.train.trace``
(:func:`traced_train_macs`), ``hirisearch.train.simulate`` (:func:`simulate_train_peak`),
``hirisearch.train.measure`` (:func:`measure_train_peak`).
"""

from __future__ import annotations

from hirisearch.train.config import OPTIMIZERS, TrainConfig
from hirisearch.train.types import TrainMacs
from hirisearch.train.units import CHECKPOINTS, checkpoint_units

__all__ = ["CHECKPOINTS", "OPTIMIZERS", "TrainConfig", "TrainMacs", "checkpoint_units"]
