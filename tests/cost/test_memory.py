"""The analytic memory estimate of a forward pass, from the cost tree alone."""

from __future__ import annotations

from hirisearch.cost import primitives as P
from hirisearch.cost.memory import estimate_memory
from hirisearch.cost.types import CostNode
from hirisearch.targets import resolve
from tests.conftest import SPECS


def test_estimate_of_a_hand_built_tree() -> None:
    a = CostNode.leaf(P.conv2d(3, 8, 3, (16, 16)), (8, 16, 16))  # 2048 outputs
    b = CostNode.leaf(P.conv2d(8, 16, 1, (16, 16)), (16, 16, 16))  # 4096 outputs
    c = CostNode.leaf(P.linear(16, 10, 1), (10,))  # 10 outputs
    tree = CostNode.of([("a", a), ("b", b), ("c", c)])
    est = estimate_memory(tree, (3, 16, 16), batch=2, dtype="fp16")
    assert est.params_bytes == tree.total.params * 4
    assert est.input_bytes == 2 * 3 * 16 * 16 * 4
    assert est.activation_bytes == 2 * ((2048 + 4096) + 4096) * 2
    assert est.total_bytes == est.params_bytes + est.input_bytes + est.activation_bytes


def test_estimate_scales_with_batch_and_resolution() -> None:
    t = resolve(str(SPECS / "s.yaml"))
    e1 = estimate_memory(t.at(224).tree, (3, 224, 224), batch=1)
    e8 = estimate_memory(t.at(224).tree, (3, 224, 224), batch=8)
    e448 = estimate_memory(t.at(448).tree, (3, 448, 448), batch=1)
    assert e8.activation_bytes == 8 * e1.activation_bytes
    assert e448.activation_bytes > 3 * e1.activation_bytes
    assert e1.params_bytes == e448.params_bytes == 4 * t.at(224).tree.total.params
