"""One training step, as every torch-side figure runs it: simulated on ``meta``, measured on the
CPU or a GPU, timed.

A step is ``zero_grad(set_to_none=True)``; the forward pass under autocast (``dtype`` bf16/fp16,
fp32 master weights); the stand-in loss (:mod:`hirisearch.train.loss`) outside autocast;
``backward``; the optimizer step. fp16 on a real device scales the loss with ``GradScaler``
(a few scalars of memory; the meta run leaves it out). The model is in training mode and
checkpointed as the configuration asks. On ``meta`` the step runs under
:class:`~hirisearch.train.emulate.DeviceEmulation` for the configuration's kind of device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn

from hirisearch.train.checkpoint import apply_checkpointing
from hirisearch.train.config import TrainConfig
from hirisearch.train.emulate import TORCH_DTYPES, DeviceEmulation
from hirisearch.train.loss import training_loss
from hirisearch.train.policy import uses_foreach

__all__ = ["TrainStep", "make_optimizer", "ADAMW", "SGD"]

#: The optimizers' settings (their memory does not depend on them; weight decay on AdamW is in
#: place, SGD without weight decay needs no temporary).
ADAMW: dict[str, Any] = {"lr": 1e-4, "weight_decay": 0.05}
SGD: dict[str, Any] = {"lr": 0.1, "momentum": 0.9}


def make_optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer | None:
    """The configuration's optimizer over ``params``, in the implementation torch picks on the
    configuration's kind of device (``foreach`` on CUDA, a loop on the CPU)."""
    foreach = uses_foreach(config.device)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, foreach=foreach, **ADAMW)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, foreach=foreach, **SGD)
    return None


class TrainStep:
    """A model, an input batch and an optimizer, ready to step.

    Args:
        model: the model, on the device the step runs on (``meta`` to simulate).
        input_shape: one sample's shape.
        config: the training configuration.
        checkpoint_units: module paths to checkpoint.
    """

    def __init__(
        self,
        model: nn.Module,
        input_shape: tuple[int, ...],
        config: TrainConfig,
        checkpoint_units: tuple[str, ...] = (),
    ) -> None:
        self.model = model.train()
        self.config = config
        param = next(model.parameters())
        self.device = param.device
        self.meta = self.device.type == "meta"
        shape = (config.batch, *input_shape)
        self.x = (
            torch.empty(shape, device=self.device)
            if self.meta
            else torch.randn(shape, device=self.device)
        )
        self.emulation = DeviceEmulation(config.device, config.dtype) if self.meta else None
        apply_checkpointing(model, checkpoint_units, scope=self._recompute_scope)
        self.optimizer = make_optimizer(list(model.parameters()), config)
        self.scaler = (
            torch.amp.GradScaler(self.device.type)
            if config.dtype == "fp16" and not self.meta
            else None
        )
        self._backward = False

    @contextmanager
    def _recompute_scope(self, path: str) -> Iterator[None]:
        # A checkpointed forward recomputed in backward runs in its own autocast region, as
        # torch.utils.checkpoint re-enters autocast: the cast cache ends with it. The autograd
        # engine does not carry torch function modes into the recomputation: enter it again.
        emulation = self.emulation if self._backward else None
        if emulation is None:
            yield
            return
        emulation.on = True
        try:
            with emulation:
                yield
        finally:
            emulation.on = False
            emulation.cache.clear()

    def _autocast(self) -> Any:
        if self.config.dtype == "fp32" or self.meta:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=TORCH_DTYPES[self.config.dtype])

    def state_tensors(self) -> list[torch.Tensor]:
        """Every tensor the step holds between steps: parameters, buffers, input, optimizer
        state."""
        out = [*self.model.parameters(), *self.model.buffers(), self.x]
        if self.optimizer is not None:
            for state in self.optimizer.state.values():
                out.extend(v for v in state.values() if isinstance(v, torch.Tensor))
        return out

    def run(self, between: Callable[[str], None] | None = None) -> None:
        """One step; ``between(phase)`` is called after ``forward`` and after ``backward``."""
        model, opt = self.model, self.optimizer
        if opt is not None:
            opt.zero_grad(set_to_none=True)
        else:
            model.zero_grad(set_to_none=True)
        emulation = self.emulation
        with emulation if emulation is not None else nullcontext():
            if emulation is not None:
                emulation.on = True
            with self._autocast():
                out = model(self.x)
            if emulation is not None:
                emulation.on = False
                emulation.cache.clear()
            loss = training_loss(out)
            del out
            if between:
                between("forward")
            self._backward = True
            try:
                (self.scaler.scale(loss) if self.scaler else loss).backward()
            finally:
                self._backward = False
        del loss
        if between:
            between("backward")
        if opt is not None:
            if self.scaler is not None:
                self.scaler.step(opt)
                self.scaler.update()
            else:
                opt.step()
