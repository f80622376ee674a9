"""A training configuration (no torch): batch, precision, optimizer, checkpointing, sharding and
the kind of device it runs on, validated once, with one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hirisearch.errors import TrainError
from hirisearch.train.policy import DEVICE_KINDS, DTYPES, DeviceKind, Dtype
from hirisearch.train.units import CHECKPOINTS, Checkpoint

__all__ = ["OPTIMIZERS", "Optimizer", "TrainConfig", "ZERO_STAGES"]

Optimizer = Literal["adamw", "sgd", "none"]
OPTIMIZERS: tuple[Optimizer, ...] = ("adamw", "sgd", "none")
#: ZeRO stages: 1 shards the optimizer state, 2 also the gradients, 3 also the parameters (FSDP's
#: full sharding).
ZERO_STAGES = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """One training step's setting.

    Attributes:
        batch: samples per step on one device.
        dtype: ``fp32``; or ``bf16`` / ``fp16`` autocast with fp32 master weights, gradients and
            optimizer state.
        optimizer: ``adamw`` (two fp32 moments per parameter), ``sgd`` (momentum 0.9: one fp32
            buffer per parameter, no weight decay) or ``none`` (forward and backward only).
        checkpoint: activation checkpointing, ``none``, ``stages`` or ``blocks``
            (:mod:`hirisearch.train.units`).
        shard: devices the model states are split over (data parallel; 1: no split).
        zero_stage: what is split when ``shard > 1``: 1 optimizer state, 2 also gradients,
            3 also parameters.
        device: the kind of device, ``cuda`` or ``cpu``: it decides autocast's operator lists,
            the attention kernel and the optimizer's implementation (:mod:`~.policy`).
    """

    batch: int = 1
    dtype: Dtype = "fp32"
    optimizer: Optimizer = "adamw"
    checkpoint: Checkpoint = "none"
    shard: int = 1
    zero_stage: int = 3
    device: DeviceKind = "cuda"

    def __post_init__(self) -> None:
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise TrainError(f"`batch >= 1` must hold, but got batch={self.batch!r}")
        _one_of("dtype", self.dtype, DTYPES)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("checkpoint", self.checkpoint, CHECKPOINTS)
        _one_of("device", self.device, DEVICE_KINDS)
        if isinstance(self.shard, bool) or not isinstance(self.shard, int) or self.shard < 1:
            raise TrainError(f"`shard >= 1` must hold, but got shard={self.shard!r}")
        if self.zero_stage not in ZERO_STAGES:
            raise TrainError(f"zero_stage must be 1, 2 or 3, but got {self.zero_stage!r}")

    def to_json(self) -> dict[str, object]:
        return {
            "batch": self.batch,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "checkpoint": self.checkpoint,
            "shard": self.shard,
            "zero_stage": self.zero_stage,
            "device": self.device,
        }


def _one_of(field: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise TrainError(f"{field} must be one of {', '.join(valid)}, but got {value!r}")
