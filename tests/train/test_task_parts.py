"""Training twins of the detection parts (necks and heads of :mod:`hirisearch.tasks`), each on a
pyramid of small maps: analytic training MACs == traced at every module path, and what the tape
keeps == the census of a meta forward pass, fp32 and bf16 autocast."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from hirisearch.cost.types import CostNode
from hirisearch.layers.fpn import fpn_cost, fpn_train, semantic_fpn_cost, semantic_fpn_train
from hirisearch.layers.fpn_nn import FPN, SemanticFPNHead
from hirisearch.train.census import saved_census
from hirisearch.train.config import TrainConfig
from hirisearch.train.cost import TrainModel
from hirisearch.train.memory import column_of, kept_by_path
from hirisearch.train.tape import Tape
from hirisearch.train.trace import traced_train_macs
from hirisearch.train.types import TrainMacs
from tests.harness import OnPyramid

#: The finest level's grid (non-square); level i is every 2**i-th row and column.
HW = (32, 48)
CHS = (16, 24, 32, 40)

CONFIGS = [
    TrainConfig(batch=2, device="cpu"),
    TrainConfig(batch=2, dtype="bf16", device="cpu"),
    TrainConfig(batch=2, device="cuda"),
    TrainConfig(batch=2, dtype="bf16", device="cuda"),
]


class GradPyramid(OnPyramid):
    """:class:`OnPyramid` whose levels need gradients, as a backbone's outputs do (the input
    is a leaf of its own, so its storage stays held and the slices keep nothing)."""

    def forward(self, x: torch.Tensor) -> object:
        return super().forward(x.detach().requires_grad_())


def _cases() -> dict[str, tuple]:
    hws = OnPyramid.grids(HW, len(CHS))
    strides = (4, 8, 16, 32)
    return {
        "fpn": (
            lambda **dd: GradPyramid(FPN(CHS, 24, num_outs=5, **dd), CHS),
            fpn_cost(CHS, 24, num_outs=5, in_hws=hws),
            lambda t, feats: fpn_train(t, feats, CHS, 24, num_outs=5, in_hws=hws),
        ),
        "semantic_fpn": (
            lambda **dd: GradPyramid(
                SemanticFPNHead(CHS, 32, 7, strides=strides, norm="gn", **dd), CHS
            ),
            semantic_fpn_cost(CHS, 32, 7, strides=strides, norm="gn", in_hws=hws),
            lambda t, feats: semantic_fpn_train(
                t, feats, CHS, 32, 7, strides=strides, norm="gn", in_hws=hws
            ),
        ),
    }


CASES = _cases()
INPUT = (sum(CHS), *HW)


def _model(name: str) -> tuple[TrainModel, object]:
    build, node, twin = CASES[name]
    hws = OnPyramid.grids(HW, len(CHS))

    def train(_plan: object, t: Tape) -> object:
        x = t.image(sum(CHS) * HW[0] * HW[1])
        feats = []
        for c, hw in zip(CHS, hws, strict=True):
            f = Tape.view(x, c * hw[0] * hw[1])
            f.grad = True
            feats.append(f)
        with t.module("inner"):
            return twin(t, feats)

    tree = CostNode.of([("inner", node)])
    return TrainModel(tree, SimpleNamespace(input_shape=INPUT), train), build


@pytest.mark.parametrize("name", sorted(CASES))
def test_train_macs_equal_traced(name) -> None:
    model, build = _model(name)
    analytic = model.macs_per_path()
    traced = traced_train_macs(build, INPUT)
    for path in sorted(set(analytic) | set(traced.per_path)):
        a, got = analytic.get(path, TrainMacs()), traced.per_path.get(path, TrainMacs())
        assert a == got, f"at {path!r}: analytic {a} != traced {got}"
    assert analytic[""].backward > analytic[""].forward


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.device}-{c.dtype}")
@pytest.mark.parametrize("name", sorted(CASES))
def test_kept_equals_census(name, config) -> None:
    model, build = _model(name)
    tape = model.tape()
    analytic = kept_by_path(tape, column_of(config), config.batch)
    counted = saved_census(build, INPUT, config).by_path()
    for path in sorted(set(analytic) | set(counted)):
        a, c = analytic.get(path, 0), counted.get(path, 0)
        assert a == c, f"{config.device} {config.dtype}: kept at {path!r}: analytic {a} != {c}"
    assert counted["inner"] > 0
