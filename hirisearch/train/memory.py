"""Analytic peak memory of a training step (no torch), from a family's training twin.

The step's memory, in bytes, is

- **model states**, held between steps: parameters (fp32 master weights, 4 per element),
  optimizer state (AdamW: two fp32 moments, 8 per element, and a step count per parameter
  tensor, kept on the CPU; SGD with momentum: one buffer, 4; none: 0), buffers, and the input
  batch (fp32);
- **gradients**: 4 per parameter element, made during the backward pass (parameters of modules
  the loss does not depend on get none, nor optimizer state);
- **activations**: what the forward pass keeps for the backward pass (the tape,
  :mod:`hirisearch.train.tape`), per sample times the batch; under autocast also the
  low-precision copies of the matmul and convolution weights, which the operators keep;
- **the optimizer step's scratch**: the ``foreach`` AdamW on CUDA makes ``sqrt`` of the second
  moments for every parameter at once (4 per element); the CPU loop two tensors the size of the
  largest parameter; SGD none.

The backward pass frees each operator's activations once its gradient is computed and makes the
gradients of its parameters, so the memory at each backward operator is an affine function of the
batch (per-sample activations still held, the gradients alive while it runs, plus weight copies
and gradients already made). It starts with the loss's backward, whose scratch over each output
is four fp32 tensors of the output's size (:meth:`~hirisearch.train.tape.Tape.loss`). In the
forward pass the memory at each operator is what is kept so far plus its inputs and output and
what its module holds (:attr:`~hirisearch.train.symbolic.Event.forward`). The peak is the largest
of these, or the optimizer step's (states + gradients + scratch). Each is affine in the batch,
so the peak is convex and piecewise affine in it: it is the maximum over a few lines (the upper
hull of the operators' points), evaluated in microseconds, and the largest batch that fits a
memory size is solved in closed form (:func:`MemoryModel.max_batch`).

With activation checkpointing, a checkpointed module keeps only its inputs in the forward pass;
its operators' activations are recomputed, all at once, when the backward pass reaches it, and
freed again one by one.

Data-parallel sharding (``shard`` = N devices, ZeRO stage ``zero_stage``): stage 1 divides the
optimizer state (and the step's scratch) by N, stage 2 also the gradients, stage 3 also the
parameters, and then holds one gathered block (its parameters and their full gradients, 8 bytes
per element of the largest block) during the forward and backward passes, as FSDP does with one
block per unit. Communication buffers are not modelled.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from hirisearch.errors import TrainError
from hirisearch.train.config import TrainConfig
from hirisearch.train.tape import COLUMNS, Event, Tape

__all__ = ["MemoryBytes", "MemoryModel", "column_of", "kept_by_path", "peak_phase"]

_BLOCK = re.compile(r"(?:^|\.)blocks\.\d+$")
Point = tuple[int, int, int]  # (per-sample activations, weight copies, gradient elements)
Passes = Literal["forward", "backward", "both"]


def peak_phase(forward: int, backward: int, step: int) -> str:
    """Where a step's peak is, from each phase's peak: ``forward`` (above both others),
    ``backward`` (at least the step's) or ``step`` (the optimizer's)."""
    if max(forward, backward) < step:
        return "step"
    return "forward" if forward > max(backward, step) else "backward"


def column_of(config: TrainConfig) -> int:
    """The tape column of ``config``'s device kind and precision."""
    return COLUMNS.index((config.device, config.dtype != "fp32"))


@dataclass(frozen=True)
class MemoryBytes:
    """Bytes of one training step on one device (see the module docstring).

    ``activations``: kept for the backward pass at the end of the forward pass (weight copies
    included); ``peak``: the most held at once; ``phase``: where the peak is, ``forward`` (in
    the forward pass, before its end), ``backward`` (in the backward pass, the end of the forward
    pass included) or ``step`` (the optimizer step).
    """

    params: int
    grads: int
    optimizer: int
    buffers: int
    input: int
    activations: int
    peak: int
    phase: str

    def to_json(self) -> dict[str, int | str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _hull(points: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The points ``(s, k)`` on which ``max(b * s + k)`` is reached for some batch ``b >= 0``:
    the upper convex hull, from the largest ``k`` to the largest ``s``."""
    best: dict[int, int] = {}
    for s, k in points:
        if k > best.get(s, -1):
            best[s] = k
    ordered = sorted(best.items())
    top = max(k for _, k in ordered)
    start = max(s for s, k in ordered if k == top)  # smaller ones are below it at every batch
    ordered = [(s, k) for s, k in ordered if s >= start]
    hull: list[tuple[int, int]] = []
    for p in ordered:
        while len(hull) >= 2:
            (s1, k1), (s2, k2) = hull[-2], hull[-1]
            if (k2 - k1) * (p[0] - s1) <= (p[1] - k1) * (s2 - s1):
                hull.pop()
            else:
                break
        hull.append(p)
    return tuple(hull)


Column = tuple[list[Point], list[Point], int, int]


def _points(events: list[Event], col: int, dead_kept: int = 0) -> Column:
    """The points of one column: the backward pass's (from the forward's end), the forward
    pass's, and the activations (per sample) and weight copies kept at the end of the forward
    pass."""
    outside = [e for e in events if e.unit < 0]
    s = sum(e.saved[col] for e in outside)
    w = sum(e.copies[col] + e.shared[col] for e in outside)
    kept = (s, w)
    recompute: dict[int, tuple[int, int]] = {}
    for e in events:
        if e.unit >= 0:
            rs, rw = recompute.get(e.unit, (0, 0))
            recompute[e.unit] = (rs + e.saved[col], rw + e.copies[col] + e.shared[col])
    # the forward's end, where what unused modules kept (PIIP's last interaction) is not yet freed
    end = sum(e.copies[col] + e.shared[col] for e in events)
    points: list[Point] = [(s, end, 0), (s + dead_kept, end, 0)]
    forward: list[Point] = []
    copies = 0  # autocast caches the weight copies as the forward pass makes them
    for e in events:
        copies += e.copies[col] + e.shared[col]
        forward.append((e.forward[col], copies, 0))
    g = 0
    done: set[int] = set()
    for e in reversed(events):
        if e.unit >= 0 and e.unit not in done:
            done.add(e.unit)
            s += recompute[e.unit][0]
            w += recompute[e.unit][1]
        g += e.params
        points.append((s + e.scratch[col], w, g))
        s -= e.saved[col]
        w -= e.copies[col] + e.shared[col]
    return points, forward, *kept


@dataclass
class MemoryModel:
    """The memory of one model's training step for any configuration (module docstring).

    Built once from the training twin's tape (per checkpointing mode); :meth:`bytes` and
    :meth:`max_batch` then take microseconds.
    """

    tape: Tape
    params: int
    input_elements: int
    _hulls: dict[tuple[int, float, Passes], tuple[tuple[int, int], ...]] = field(
        default_factory=dict
    )
    _points: dict[int, Column] = field(default_factory=dict)
    _largest_block: int | None = None

    @property
    def grad_params(self) -> int:
        """Parameter elements that get gradients and optimizer state."""
        return self.tape.grad_params

    def _column(self, col: int) -> Column:
        if col not in self._points:
            self._points[col] = _points(self.tape.events, col, self.tape.dead_kept[col])
        return self._points[col]

    def _hull(
        self, col: int, grad_share: float, passes: Passes = "both"
    ) -> tuple[tuple[int, int], ...]:
        """The hull of the points of the forward pass, the backward pass or both."""
        key = (col, grad_share, passes)
        hull = self._hulls.get(key)
        if hull is None:
            backward, forward, _, _ = self._column(col)
            points = {"forward": forward, "backward": backward}.get(passes, backward + forward)
            hull = self._hulls[key] = _hull(
                [(s, w + math.ceil(4 * g * grad_share)) for s, w, g in points]
            )
        return hull

    def largest_block(self) -> int:
        """Parameter elements of the largest repeated block (ZeRO-3 gathers one at a time)."""
        if self._largest_block is None:
            per: dict[str, int] = {}
            for e in self.tape.events:
                parts = e.path.split(".")
                for i in range(len(parts), 0, -1):
                    head = ".".join(parts[:i])
                    if _BLOCK.search(head):
                        per[head] = per.get(head, 0) + e.params
                        break
            self._largest_block = max(per.values(), default=self.params)
        return self._largest_block

    def _states(self, config: TrainConfig) -> tuple[int, int, int, float, int]:
        """(params, optimizer, step scratch, gradient share, ZeRO-3 gathered) bytes."""
        n, stage = config.shard, config.zero_stage if config.shard > 1 else 0
        per = {"adamw": 8, "sgd": 4, "none": 0}[config.optimizer]
        params = 4 * self.params
        optimizer = per * self.grad_params
        if config.optimizer == "adamw" and config.device == "cpu":
            optimizer += 4 * self.tape.param_tensors  # the step counts, CPU tensors
        if config.optimizer != "adamw":
            scratch = 0
        elif config.device == "cuda":
            scratch = 4 * self.grad_params
        else:
            scratch = 8 * self.tape.largest_param
        gathered = 0
        if stage >= 1:
            optimizer = -(-optimizer // n)
            scratch = -(-scratch // n) if config.device == "cuda" else scratch
        if stage >= 3:
            params = -(-params // n)
            gathered = 8 * self.largest_block()
        return params, optimizer, scratch, (1 / n if stage >= 2 else 1.0), gathered

    def bytes(self, config: TrainConfig) -> MemoryBytes:
        """The memory of one step under ``config`` (its checkpointing must be the tape's)."""
        col = column_of(config)
        params, optimizer, scratch, share, gathered = self._states(config)
        b = config.batch
        grads = math.ceil(4 * self.grad_params * share)
        inputs = 4 * self.input_elements * b
        static = params + optimizer + self.tape.buffers + inputs
        forward, backward = (
            max(b * s + k for s, k in self._hull(col, share, passes)) + gathered
            for passes in ("forward", "backward")
        )
        step = grads + scratch
        _, _, kept_s, kept_w = self._column(col)
        return MemoryBytes(
            params=params,
            grads=grads,
            optimizer=optimizer,
            buffers=self.tape.buffers,
            input=inputs,
            activations=b * kept_s + kept_w,
            peak=static + max(forward, backward, step),
            phase=peak_phase(forward, backward, step),
        )

    def max_batch(self, config: TrainConfig, memory_bytes: int) -> int:
        """The largest batch whose peak fits ``memory_bytes`` (0: not even one sample), solved
        from the hull: every line ``b * s + k`` must stay under what the states leave."""
        col = column_of(config)
        params, optimizer, scratch, share, gathered = self._states(config)
        grads = math.ceil(4 * self.grad_params * share)
        room = memory_bytes - params - optimizer - self.tape.buffers
        per_input = 4 * self.input_elements
        best = math.inf
        for s, k in self._hull(col, share):
            if s + per_input > 0:
                best = min(best, (room - k - gathered) / (s + per_input))
        if per_input:
            best = min(best, (room - grads - scratch) / per_input)
        if best == math.inf:
            raise TrainError("the model keeps nothing per sample: any batch fits")
        return max(0, math.floor(best))


def kept_by_path(tape: Tape, column: int, batch: int) -> dict[str, int]:
    """Bytes each module path keeps for the backward pass, its descendants included (root
    ``""``), for ``batch`` samples in one column (weight copies apart)."""
    out: dict[str, int] = {}
    for e in tape.events:
        nbytes = e.saved[column] * batch + e.shared[column]
        if not nbytes:
            continue
        parts = e.path.split(".") if e.path else []
        for i in range(len(parts) + 1):
            key = ".".join(parts[:i])
            out[key] = out.get(key, 0) + nbytes
    return out
