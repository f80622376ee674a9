"""What a user objective (``module:function`` in a space file) receives: one candidate's trial.

The function gets a :class:`CandidateTrial` and returns a number::

    def train_loss(trial: CandidateTrial) -> float:
        model = trial.build()                     # on this worker's GPU, else the CPU
        for step in range(steps):
            ...                                   # train one step
            trial.report(step, loss)
            if trial.should_prune():
                raise hirisearch.Pruned()
        return loss

``report`` and ``should_prune`` are Optuna's ``Trial.report`` / ``Trial.should_prune`` on the
space's ``pruner:``. Once ``should_prune()`` has answered true the trial is recorded as pruned with
its last reported value, whether the function then raises :class:`hirisearch.Pruned` or returns;
a pruned trial is never feasible. Optuna prunes single-objective studies only: with several
objectives, ``report`` keeps the value here only and ``should_prune()`` answers false.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hirisearch.ops.search.retry import retrying
from hirisearch.tasks.family import family_of

if TYPE_CHECKING:
    import optuna
    import torch

    from hirisearch.models.base import SpecBase
    from hirisearch.ops.search.candidate import Candidate
    from hirisearch.ops.search.types import Scalar


class CandidateTrial:
    """One candidate of a search, handed to a user objective.

    Attributes:
        number: the Optuna trial number (-1 outside a study).
        spec: the candidate's validated spec.
        plan: its plan (every derived number: stage sizes, tokens, ...).
        axes: the searched axes' values of this candidate (dotted path -> value), as
            ``results.json`` lists them.
        img_size: the input resolution the candidate is planned for.
        input_shape: ``(channels, height, width)`` of one input image.
    """

    def __init__(
        self,
        candidate: Candidate,
        trial: optuna.Trial | None = None,
        *,
        single_objective: bool = True,
    ) -> None:
        if candidate.spec is None or candidate.plan is None:
            raise ValueError(f"an invalid candidate has no trial: {candidate.error}")
        self._family = family_of(candidate.plan)
        self._trial = trial
        self._single = single_objective
        self.number: int = trial.number if trial is not None else -1
        self.spec: SpecBase = candidate.spec
        self.plan: Any = candidate.plan
        self.axes: Mapping[str, Scalar] = dict(candidate.values)
        self.img_size: int = int(candidate.plan.img_size)
        self.input_shape: tuple[int, ...] = tuple(candidate.plan.input_shape)
        self.pruned = False  # set once should_prune() answered true
        self.last_step: int | None = None
        self.last_value: float | None = None

    def __repr__(self) -> str:
        return f"CandidateTrial(number={self.number}, axes={dict(self.axes)})"

    @property
    def device(self) -> str:
        """This worker's device: ``cuda`` (the GPU ``--gpus`` gave it, or the first) or ``cpu``."""
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def gpu(self) -> str | None:
        """The device id ``--gpus`` gave this worker (its ``CUDA_VISIBLE_DEVICES``), if any."""
        return os.environ.get("CUDA_VISIBLE_DEVICES")

    def build(
        self, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> torch.nn.Module:
        """The candidate's model, freshly initialised, on ``device`` (default :attr:`device`)."""
        import torch

        return self._family.build(
            self.plan, device=torch.device(device or self.device), dtype=dtype
        )

    def report(self, step: int, value: float) -> None:
        """Record the objective's intermediate ``value`` at ``step`` (Optuna's ``Trial.report``)."""
        value = float(value)
        self.last_step, self.last_value = int(step), value
        trial = self._trial
        if trial is not None and self._single:
            retrying(lambda: trial.report(value, int(step)), what=f"reporting step {step}")

    def should_prune(self) -> bool:
        """Whether the space's pruner stops this trial now (Optuna's ``Trial.should_prune``)."""
        trial = self._trial
        if trial is None or not self._single or self.last_step is None:
            return self.pruned
        if retrying(trial.should_prune, what="asking the pruner"):
            self.pruned = True
        return self.pruned
