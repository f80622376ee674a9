"""The refusal of configurations whose analytic memory estimate exceeds the device's memory."""

from __future__ import annotations

import math

import pytest

from hirisearch.cost.memory import estimate_memory
from hirisearch.errors import MemoryBudgetError
from hirisearch.latency import device
from hirisearch.targets import resolve
from tests.conftest import SPECS


def test_ensure_fits_refuses_with_one_line_suggesting_force(monkeypatch) -> None:
    monkeypatch.setattr(device, "_mem_available_cpu", lambda meminfo="": 2**30)
    device.ensure_fits(2**29, "cpu")
    with pytest.raises(MemoryBudgetError, match="--force") as e:
        device.ensure_fits(3 * 2**30, "cpu", what="HIRI-ViT-S at 4096, batch 64")
    assert "\n" not in str(e.value) and "HIRI-ViT-S at 4096, batch 64" in str(e.value)
    assert "3.00 GiB" in str(e.value) and "1.00 GiB" in str(e.value)
    device.ensure_fits(3 * 2**30, "cpu", force=True)


def test_cpu_available_memory_from_meminfo(tmp_path) -> None:
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       24000000 kB\nMemAvailable:   12345678 kB\n")
    assert device._mem_available_cpu(f) == 12345678 * 1024
    assert 0 < device.available_memory_bytes("cpu") < math.inf


def test_ensure_targets_fit_checks_every_size_and_batch(monkeypatch) -> None:
    t = resolve(str(SPECS / "s.yaml"))
    need = estimate_memory(t.at(448).tree, (3, 448, 448), batch=8).total_bytes
    monkeypatch.setattr(device, "_mem_available_cpu", lambda meminfo="": need - 1)
    device.ensure_targets_fit([t], [224, 448], [1], "cpu")  # fits
    with pytest.raises(MemoryBudgetError, match=r"HIRI-ViT-S at 448, batch 8 needs"):
        device.ensure_targets_fit([t], [224, 448], [1, 8], "cpu")
    device.ensure_targets_fit([t], [448], [8], "cpu", force=True)
    device.ensure_targets_fit([resolve("timm:resnet18")], [224], [10**6], "cpu")  # no tree: skipped
