"""The eager CPU fallback of the traced count: announced, and refused before allocating when its
memory would not fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hirisearch.cost import counters
from hirisearch.cost.counters import count_traced
from hirisearch.cost.memory import estimate_memory
from hirisearch.errors import CountingError
from hirisearch.latency import device
from hirisearch.ops.profile import profile_target
from hirisearch.targets import resolve
from tests.conftest import SPECS


class NoMeta(nn.Module):
    """A model whose forward has no meta kernel (it asks for a value)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "meta":
            raise NotImplementedError("aten::_local_scalar_dense has no meta kernel")
        return self.fc(x)


def _build(device=None, dtype=None) -> nn.Module:  # noqa: ANN001
    return NoMeta().to(device or "cpu")


def test_fallback_runs_eagerly_and_says_so() -> None:
    tc = count_traced(_build, (3, 8))
    assert tc.mode == "eager-cpu" and "counted eagerly on the CPU" in tc.note
    assert tc.total.linear == 3 * 8 * 4 and tc.total.params == 36


def test_fallback_is_refused_before_allocating_when_it_would_not_fit(monkeypatch) -> None:
    monkeypatch.setattr(device, "_mem_available_cpu", lambda meminfo="": 2**20)
    built: list[str] = []

    def build(device=None, dtype=None) -> nn.Module:  # noqa: ANN001
        built.append(str(device))
        return _build(device)

    with pytest.raises(CountingError, match=r"would need an estimated 0\.98 GiB, more than"):
        count_traced(build, (3, 8), eager_bytes=2**30 - 2**24)
    assert built == ["meta"]  # nothing was built on the CPU
    count_traced(build, (3, 8), eager_bytes=2**19)  # fits: runs
    # Without an estimate, the meta model's parameters and the input are the floor.
    monkeypatch.setattr(device, "_mem_available_cpu", lambda meminfo="": 100)
    with pytest.raises(CountingError, match="more than the 0.00 GiB available"):
        count_traced(build, (3, 8))


def test_profile_passes_the_analytic_memory_estimate(monkeypatch) -> None:
    seen: dict[str, object] = {}
    real = counters.count_traced

    def spy(*a, **k):  # noqa: ANN002, ANN003, ANN202
        seen.update(k)
        return real(*a, **k)

    monkeypatch.setattr(counters, "count_traced", spy)  # profile imports it when it counts
    target = resolve(str(SPECS / "s.yaml"))
    profile_target(target, 224)
    sized = target.at(224)
    expected = estimate_memory(sized.tree, sized.input_shape).total_bytes
    assert seen["eager_bytes"] == expected
