"""The peak memory of a training step, simulated: the step runs on the ``meta`` device (nothing is
allocated) as it would run on the configuration's kind of device, and every tensor is tracked
(:class:`~hirisearch.train.live.LiveBytes`).

Two steps run; the second is measured, so the figures are those of steady training: the
optimizer state exists before the step (torch creates it lazily in the first one), gradients are
freed by ``zero_grad(set_to_none=True)`` at the start of each step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from hirisearch.cost.meta import MetaBuild
from hirisearch.runtime import gc_paused
from hirisearch.train.config import TrainConfig
from hirisearch.train.live import LiveBytes
from hirisearch.train.step import TrainStep

__all__ = ["SimulatedPeak", "simulate_train_peak"]


@dataclass(frozen=True)
class SimulatedPeak:
    """Bytes of one simulated training step.

    ``peak``: the most held at once during the step; ``states``: held between steps (parameters,
    buffers, input batch, optimizer state); ``after_forward``: held when the forward pass (and
    the loss) has run, i.e. ``states`` plus what is kept for the backward pass; ``grads``: the
    parameters' gradients; ``forward_peak``/``backward_peak``/``step_peak``: the peak of each
    phase.
    """

    peak: int
    states: int
    after_forward: int
    grads: int
    forward_peak: int
    backward_peak: int
    step_peak: int
    seconds: float

    def to_json(self) -> dict[str, int | float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def simulate_train_peak(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    config: TrainConfig,
    *,
    checkpoint_units: tuple[str, ...] = (),
    trace: list[int] | None = None,
) -> SimulatedPeak:
    """Simulate a training step of ``build(device="meta")`` under ``config``.

    Args:
        build: builds the model; must accept ``device``.
        input_shape: one sample's shape, e.g. ``(3, 448, 448)``.
        config: batch, dtype, optimizer, checkpointing and the kind of device emulated.
        checkpoint_units: the module paths ``config.checkpoint`` wraps
            (:func:`hirisearch.train.units.checkpoint_units`).
        trace: a list to which the bytes held after every operator of the measured step are
            appended (:class:`~hirisearch.train.live.LiveBytes`), or None.
    """
    start = time.perf_counter()
    with gc_paused():
        with MetaBuild():
            model = build(device="meta")
        step = TrainStep(model, input_shape, config, checkpoint_units)
        step.run()
        live = LiveBytes(trace)
        live.hold(step.state_tensors())
        states = live.live
        marks: dict[str, tuple[int, int]] = {}

        def mark(phase: str) -> None:
            marks[phase] = (live.live, live.peak)
            live.reset_peak()

        with live:
            step.run(mark)
        step_peak = live.peak
        grads = sum(
            p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None
        )
    return SimulatedPeak(
        peak=max(marks["forward"][1], marks["backward"][1], step_peak),
        states=states,
        after_forward=marks["forward"][0],
        grads=grads,
        forward_peak=marks["forward"][1],
        backward_peak=marks["backward"][1],
        step_peak=step_peak,
        seconds=time.perf_counter() - start,
    )
