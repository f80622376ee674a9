"""Records of a training step's cost (torch-free): MACs split into forward, backward and the
forward recomputed by activation checkpointing."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrainMacs"]


@dataclass(frozen=True, slots=True)
class TrainMacs:
    """Multiply-accumulates of one training step (the hirisearch convention: a multiply-add
    counted once, attention included, norms excluded).

    ``backward`` is the gradients of the inputs and of the weights of every operator the loss
    depends on (no input gradient for the image); ``recompute`` is the forward of the modules
    activation checkpointing runs again inside the backward pass.
    """

    forward: int = 0
    backward: int = 0
    recompute: int = 0

    @property
    def total(self) -> int:
        return self.forward + self.backward + self.recompute

    def __add__(self, other: TrainMacs) -> TrainMacs:
        return TrainMacs(
            self.forward + other.forward,
            self.backward + other.backward,
            self.recompute + other.recompute,
        )

    def scaled(self, batch: int) -> TrainMacs:
        """The MACs of a batch of ``batch`` samples (every count is per sample)."""
        return TrainMacs(self.forward * batch, self.backward * batch, self.recompute * batch)

    def to_json(self) -> dict[str, int]:
        return {
            "forward": self.forward,
            "backward": self.backward,
            "recompute": self.recompute,
            "total": self.total,
        }
