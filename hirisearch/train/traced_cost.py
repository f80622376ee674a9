"""The training cost of a model without an analytic twin (a timm, torchvision or user's model, a
task model over a timm backbone): MACs traced, memory simulated, both on the ``meta`` device.

- **MACs**: :func:`~hirisearch.train.trace.traced_train_macs`, forward and backward of one sample
  per module path, times the batch.
- **Memory**: :func:`~hirisearch.train.simulate.simulate_train_peak` at the configuration's batch;
  the parts are read from the simulated step: parameters and buffers from the model, the input
  batch, the optimizer state (what the step holds between steps, less those), the gradients, the
  activations (held at the end of the forward pass, less the states) and the peak.
- **The largest batch**: after every operator of a step, the bytes held are an affine function of
  the batch, since every tensor either has the batch as a dimension (activations, their
  gradients, the input) or has none (weights, their gradients and optimizer state, batch norm's
  per-channel statistics and running buffers). Two steps simulated at batch ``b`` and ``b + 1``
  therefore give every operator's line, and the peak at any batch is the largest of them
  (:class:`PeakLines`): the largest batch that fits a memory is solved in closed form, as the
  analytic model solves its own lines. A model whose two steps do not run the same operators (a
  forward pass that branches on the batch) has no such lines; its largest batch is searched by
  simulating steps, the peak taken as nondecreasing in the batch.

Imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from hirisearch.cost.meta import MetaBuild
from hirisearch.errors import TrainError
from hirisearch.train.config import TrainConfig
from hirisearch.train.cost import TrainCost
from hirisearch.train.devices import Memory, parse_memory
from hirisearch.train.memory import MemoryBytes, peak_phase
from hirisearch.train.simulate import SimulatedPeak, simulate_train_peak
from hirisearch.train.trace import traced_train_macs
from hirisearch.train.types import TrainMacs

__all__ = ["PeakLines", "SimulatedTrain", "simulated_train_cost"]

#: The largest batch a search by simulation tries (beyond it a memory is "any batch").
SEARCH_LIMIT = 2**20


@dataclass(frozen=True)
class PeakLines:
    """The bytes held after each operator of a training step, as lines in the batch: ``(k, s)``
    holds ``k + s * batch`` bytes."""

    lines: tuple[tuple[int, int], ...]

    @classmethod
    def fit(cls, b1: int, trace1: list[int], b2: int, trace2: list[int]) -> PeakLines | None:
        """The lines through two steps' traces at batches ``b1 < b2``; None when the steps ran
        different operators (traces of different lengths)."""
        if len(trace1) != len(trace2) or not trace1 or b2 <= b1:
            return None
        lines: dict[tuple[float, float], None] = {}
        for y1, y2 in zip(trace1, trace2, strict=True):
            s = (y2 - y1) / (b2 - b1)
            lines[(y1 - s * b1, s)] = None
        return cls(tuple((round(k), round(s)) for k, s in lines))

    def peak(self, batch: int) -> int:
        """The most held at once by a step of ``batch`` samples."""
        return max(k + s * batch for k, s in self.lines)

    def max_batch(self, usable: int) -> int:
        """The largest batch whose every line stays within ``usable`` bytes (0: none)."""
        best = math.inf
        for k, s in self.lines:
            if s > 0:
                best = min(best, (usable - k) / s)
            elif k > usable:
                return 0
        if best == math.inf:
            raise TrainError("the model holds nothing per sample: any batch fits")
        return max(0, math.floor(best))


@dataclass(frozen=True)
class SimulatedTrain:
    """A traced and simulated training step: ``cost`` (MACs of the whole batch, memory of one
    device, the largest batch per memory), the MACs per sample at every module path, the
    simulated step at the configuration's batch, its lines (None where the steps at two batches
    ran different operators) and how the largest batch was found (``fit``)."""

    cost: TrainCost
    per_path: dict[str, TrainMacs]
    simulated: SimulatedPeak
    lines: PeakLines | None
    fit: str


def _run(what: str, call: Callable[[], Any]) -> Any:
    """``call()``, its failure (the model's code) one line naming ``what``."""
    try:
        return call()
    except TrainError:
        raise
    except Exception as e:  # noqa: BLE001 - the model's own code: any failure is one line
        text = (str(e).strip().splitlines() or [""])[0][:200]
        raise TrainError(f"{what} failed: {type(e).__name__}: {text}") from None


def _unique_bytes(tensors: Iterable[Any]) -> int:
    seen: dict[int, int] = {}
    kept = []  # hold the storages while their ids are compared
    for t in tensors:
        storage = t.untyped_storage()
        kept.append(storage)
        seen[id(storage)] = storage.nbytes()
    return sum(seen.values())


def _state_bytes(build: Callable[..., nn.Module]) -> tuple[int, int]:
    """(parameter, buffer) bytes of the model, a shared storage counted once."""
    with MetaBuild():
        model = build(device="meta")
    return _unique_bytes(model.parameters()), _unique_bytes(model.buffers())


def _memory(sim: SimulatedPeak, params: int, buffers: int, input_bytes: int) -> MemoryBytes:
    return MemoryBytes(
        params=params,
        grads=sim.grads,
        optimizer=sim.states - params - buffers - input_bytes,
        buffers=buffers,
        input=input_bytes,
        activations=sim.after_forward - sim.states,
        peak=sim.peak,
        phase=peak_phase(sim.forward_peak, sim.backward_peak, sim.step_peak),
    )


def _search(peak_at: Callable[[int], int], usable: int, guess: int) -> int:
    """The largest batch with ``peak_at(batch) <= usable``, from ``guess``, by doubling and
    halving (``peak_at`` nondecreasing)."""
    if peak_at(1) > usable:
        return 0
    lo, hi = 1, max(2, guess)
    while peak_at(hi) <= usable:
        lo, hi = hi, 2 * hi
        if hi > SEARCH_LIMIT:
            raise TrainError(
                f"more than {SEARCH_LIMIT} samples fit: the model holds little per sample"
            )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if peak_at(mid) <= usable else (lo, mid)
    return lo


def simulated_train_cost(
    build: Callable[..., nn.Module],
    input_shape: tuple[int, ...],
    config: TrainConfig,
    memories: Iterable[str | int | Memory] = (),
    *,
    name: str = "the model",
) -> SimulatedTrain:
    """The training cost of ``build(device="meta")`` under ``config`` (module docstring).

    Args:
        build: builds the model; must accept ``device``.
        input_shape: one sample's shape, e.g. ``(3, 512, 512)``.
        config: the step (checkpointing ``none`` and no sharding: both need an analytic twin).
        memories: device names or sizes for the largest batch.
        name: the model, for errors.

    Raises:
        TrainError: checkpointing or sharding asked; the model fails on the meta device.
    """
    if config.checkpoint != "none" or config.shard > 1:
        raise TrainError(
            f"{name}: checkpointing and sharding are modelled by analytic training twins only"
        )
    traced = _run(
        f"{name}: the traced training step", lambda: traced_train_macs(build, input_shape)
    )
    b1, b2 = config.batch, config.batch + 1
    traces: dict[int, list[int]] = {b1: [], b2: []}
    sims: dict[int, SimulatedPeak] = {}

    def simulate(batch: int) -> SimulatedPeak:
        if batch not in sims:
            trace = traces.get(batch)
            sims[batch] = _run(
                f"{name}: the simulated training step at batch {batch}",
                lambda: simulate_train_peak(
                    build, input_shape, replace(config, batch=batch), trace=trace
                ),
            )
        return sims[batch]

    sim = simulate(b1)
    simulate(b2)
    params, buffers = _state_bytes(build)
    memory = _memory(sim, params, buffers, 4 * math.prod(input_shape) * b1)
    lines = PeakLines.fit(b1, traces[b1], b2, traces[b2])
    mems = [m if isinstance(m, Memory) else parse_memory(m) for m in memories]
    if lines is not None:
        fits = {m.label: lines.max_batch(m.usable) for m in mems}
        how = f"per-operator lines through simulated steps at batch {b1} and {b2}"
    else:
        slope = max(1, sims[b2].peak - sims[b1].peak)
        fits = {
            m.label: _search(
                lambda b: simulate(b).peak, m.usable, max(1, (m.usable - sim.peak) // slope + b1)
            )
            for m in mems
        }
        how = "searched by simulated steps (the steps at two batches run different operators)"
    cost = TrainCost(config, traced.total.scaled(config.batch), memory, fits)
    return SimulatedTrain(cost, traced.per_path, sim, lines, how)
