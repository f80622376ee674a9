"""A timed training step: forward, backward and optimizer step, with the statistics and the timing
loop of inference ``bench`` (:mod:`hirisearch.latency.timing`, :mod:`hirisearch.latency.stats`).

The model is built on the device, in training mode, checkpointed as the configuration asks; one
step (:class:`~hirisearch.train.step.TrainStep`: ``zero_grad``, forward under autocast, loss,
backward, optimizer step) is the timed call, synchronised on CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from hirisearch.latency.device import cpu_threads, cudnn_benchmark, device_name
from hirisearch.latency.stats import Summary, summarize
from hirisearch.latency.timing import time_callable
from hirisearch.train.config import TrainConfig
from hirisearch.train.step import TrainStep

__all__ = ["TrainTiming", "time_train_step"]


@dataclass(frozen=True)
class TrainTiming:
    """Milliseconds per training step (``summary``), where and how it ran."""

    config: TrainConfig
    summary: Summary
    device: str
    device_name: str
    threads: int

    def to_json(self) -> dict[str, object]:
        return {
            **self.config.to_json(),
            **asdict(self.summary),
            "device_name": self.device_name,
            "threads": self.threads,
            "timed_device": self.device,
        }


def time_train_step(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    config: TrainConfig,
    *,
    device: str | torch.device = "cpu",
    checkpoint_units: tuple[str, ...] = (),
    threads: int | None = None,
    warmup_s: float = 0.5,
    min_time_s: float = 2.0,
    min_runs: int = 5,
    max_runs: int = 10_000,
    clock: str = "wall",
) -> TrainTiming:
    """Time training steps of ``build(device=...)`` under ``config`` on ``device``.

    Args:
        build: builds the model; must accept ``device``.
        input_shape: one sample's shape.
        config: batch, dtype, optimizer, checkpointing (``config.device`` should name the kind
            of ``device``).
        device: where to run, ``cpu`` or ``cuda[:i]``.
        checkpoint_units: module paths ``config.checkpoint`` wraps.
        threads: CPU threads (``None``: torch's current count, reported).
        warmup_s, min_time_s, min_runs, max_runs, clock: as for inference ``bench``.
    """
    dev = torch.device(device)
    with cpu_threads(threads) as n, cudnn_benchmark(dev):
        step = TrainStep(build(device=dev), input_shape, config, checkpoint_units)
        samples = time_callable(
            step.run,
            dev,
            warmup_s=warmup_s,
            min_time_s=min_time_s,
            min_runs=min_runs,
            max_runs=max_runs,
            clock=clock if dev.type == "cpu" else "wall",
        )
    return TrainTiming(config, summarize(samples), str(dev), device_name(dev), n)
