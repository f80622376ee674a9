"""The meta simulation runs a step as the CPU runs it: the device emulation (autocast's operator
lists, the attention kernel) applied to real CPU tensors without autocast gives the same aten
operators with the same dtypes as real CPU autocast (the forward in the same order; the backward's
independent gradient casts may run in another order), and the same peak of live tensors."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hirisearch.models import get_family
from hirisearch.spec import load_spec
from hirisearch.train.config import TrainConfig
from hirisearch.train.emulate import DeviceEmulation
from hirisearch.train.live import LiveBytes
from hirisearch.train.loss import output_tensors, training_loss
from hirisearch.train.simulate import simulate_train_peak
from hirisearch.train.step import TrainStep
from tests.train.conftest import FAMILY_SPECS, sized


class _Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, tuple[str, ...]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        self.ops.append((str(func), tuple(str(t.dtype) for t in output_tensors(out))))
        return out


def _ops(model, x, dtype: str, emulate: bool) -> tuple[list[tuple], Counter]:
    """(forward operators in order, backward operators counted)."""
    model.zero_grad(set_to_none=True)
    rec = _Ops()
    low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
    if emulate:
        ctx = DeviceEmulation("cpu", dtype)  # type: ignore[arg-type]
    else:
        ctx = torch.autocast("cpu", dtype=low, enabled=low is not None)
    with rec:
        with ctx:
            out = model(x)
        loss = training_loss(out)
        forward = list(rec.ops)
        loss.backward()
    return forward, Counter(rec.ops[len(forward) :])


def _small(family: str):
    fam, plan, build = sized(FAMILY_SPECS[family], None)
    spec = load_spec(FAMILY_SPECS[family])
    plan = fam.plan(spec, get_family(spec.family).forward_size(spec))
    model = fam.build(plan).train()
    return plan, model


@pytest.mark.parametrize("dtype", ["bf16"])
@pytest.mark.parametrize("family", sorted(set(FAMILY_SPECS) - {"hrvit"}))
def test_emulation_is_cpu_autocast_operator_by_operator(family, dtype) -> None:
    plan, model = _small(family)
    x = torch.randn(2, *plan.input_shape)
    real = _ops(model, x, dtype, emulate=False)
    emulated = _ops(model, x, dtype, emulate=True)
    assert len(real[0]) > 50
    assert emulated[0] == real[0]
    assert emulated[1] == real[1]


@pytest.mark.slow
def test_emulation_is_cpu_autocast_hrvit() -> None:
    """HRViT (at its smallest size): the 5-D attention takes the math path, in fp32."""
    fam, plan, _ = sized(FAMILY_SPECS["hrvit"], 32)
    model = fam.build(plan).train()
    x = torch.randn(2, *plan.input_shape)
    assert _ops(model, x, "bf16", emulate=True) == _ops(model, x, "bf16", emulate=False)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_meta_simulation_equals_a_real_cpu_step(dtype) -> None:
    """The simulated step (meta) holds exactly the bytes a real CPU step holds, operator by
    operator (the live-tensor tracker run on real tensors)."""
    fam, plan, build = sized(FAMILY_SPECS["vit"], 64)
    config = TrainConfig(batch=2, dtype=dtype, device="cpu")
    sim = simulate_train_peak(build, plan.input_shape, config)
    step = TrainStep(build(device="cpu"), plan.input_shape, config)
    step.run()
    live = LiveBytes()
    live.hold(step.state_tensors())
    with live:
        step.run()
    assert sim.states == sum(
        t.untyped_storage().nbytes()
        for t in {id(t.untyped_storage()): t for t in step.state_tensors()}.values()
    )
    assert sim.peak == live.peak
