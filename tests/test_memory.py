"""Analytic memory estimate and the refusal of configurations that cannot fit."""

from __future__ import annotations

import math

import pytest

from hirisearch import memory
from hirisearch.cost import primitives as P
from hirisearch.cost.types import CostNode
from hirisearch.errors import MemoryBudgetError
from hirisearch.targets import resolve
from tests.conftest import SPECS


def test_estimate_of_a_hand_built_tree() -> None:
    a = CostNode.leaf(P.conv2d(3, 8, 3, (16, 16)), (8, 16, 16))  # 2048 outputs
    b = CostNode.leaf(P.conv2d(8, 16, 1, (16, 16)), (16, 16, 16))  # 4096 outputs
    c = CostNode.leaf(P.linear(16, 10, 1), (10,))  # 10 outputs
    tree = CostNode.of([("a", a), ("b", b), ("c", c)])
    est = memory.estimate_memory(tree, (3, 16, 16), batch=2, dtype="fp16")
    assert est.params_bytes == tree.total.params * 4
    assert est.input_bytes == 2 * 3 * 16 * 16 * 4
    assert est.activation_bytes == 2 * ((2048 + 4096) + 4096) * 2
    assert est.total_bytes == est.params_bytes + est.input_bytes + est.activation_bytes


def test_estimate_scales_with_batch_and_resolution() -> None:
    t = resolve(str(SPECS / "s.yaml"))
    e1 = memory.estimate_memory(t.cost(t.plan(224)), (3, 224, 224), batch=1)
    e8 = memory.estimate_memory(t.cost(t.plan(224)), (3, 224, 224), batch=8)
    e448 = memory.estimate_memory(t.cost(t.plan(448)), (3, 448, 448), batch=1)
    assert e8.activation_bytes == 8 * e1.activation_bytes
    assert e448.activation_bytes > 3 * e1.activation_bytes
    assert e1.params_bytes == e448.params_bytes == 4 * t.cost(t.plan(224)).total.params


def test_ensure_fits_refuses_with_one_line_suggesting_force(monkeypatch) -> None:
    monkeypatch.setattr(memory, "_mem_available_cpu", lambda meminfo="": 2**30)
    memory.ensure_fits(2**29, "cpu")
    with pytest.raises(MemoryBudgetError, match="--force") as e:
        memory.ensure_fits(3 * 2**30, "cpu", what="HIRI-ViT-S at 4096, batch 64")
    assert "\n" not in str(e.value) and "HIRI-ViT-S at 4096, batch 64" in str(e.value)
    assert "3.00 GiB" in str(e.value) and "1.00 GiB" in str(e.value)
    memory.ensure_fits(3 * 2**30, "cpu", force=True)


def test_cpu_available_memory_from_meminfo(tmp_path) -> None:
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       24000000 kB\nMemAvailable:   12345678 kB\n")
    assert memory._mem_available_cpu(f) == 12345678 * 1024
    assert 0 < memory.available_memory_bytes("cpu") < math.inf


def test_ensure_targets_fit_checks_every_size_and_batch(monkeypatch) -> None:
    t = resolve(str(SPECS / "s.yaml"))
    need = memory.estimate_memory(t.cost(t.plan(448)), (3, 448, 448), batch=8).total_bytes
    monkeypatch.setattr(memory, "_mem_available_cpu", lambda meminfo="": need - 1)
    memory.ensure_targets_fit([t], [224, 448], [1], "cpu")  # fits
    with pytest.raises(MemoryBudgetError, match=r"HIRI-ViT-S at 448, batch 8 needs"):
        memory.ensure_targets_fit([t], [224, 448], [1, 8], "cpu")
    memory.ensure_targets_fit([t], [448], [8], "cpu", force=True)
    memory.ensure_targets_fit([resolve("timm:resnet18")], [224], [10**6], "cpu")  # no plan: skipped
