"""Training twins of the detection parts (necks and heads of :mod:`hirisearch.tasks`), each on a
pyramid of small maps: analytic training MACs == traced at every module path, and what the tape
keeps == the census of a meta forward pass, fp32 and bf16 autocast."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import pytest
import torch

from hirisearch.cost.types import CostNode
from hirisearch.layers.fpn import fpn_cost, fpn_train, semantic_fpn_cost, semantic_fpn_train
from hirisearch.layers.fpn_nn import FPN, SemanticFPNHead
from hirisearch.layers.rcnn import RCNNLayout, rcnn_cost, rcnn_train
from hirisearch.layers.rcnn_nn import RCNNHead
from hirisearch.layers.sfp import sfp_cost, sfp_train
from hirisearch.layers.sfp_nn import SimpleFeaturePyramid
from hirisearch.spec import load_spec
from hirisearch.tasks.model import cost_task, plan_task
from hirisearch.tasks.model_nn import build_task
from hirisearch.tasks.train import train_family
from hirisearch.train.census import saved_census
from hirisearch.train.config import TrainConfig
from hirisearch.train.cost import TrainModel
from hirisearch.train.memory import column_of, kept_by_path
from hirisearch.train.simulate import simulate_train_peak
from hirisearch.train.tape import Tape
from hirisearch.train.trace import traced_train_macs
from hirisearch.train.types import TrainMacs
from tests.conftest import SPECS
from tests.harness import OnPyramid
from tests.train.test_memory import PEAK_TOLERANCE

#: The finest level's grid (non-square); level i is every 2**i-th row and column.
HW = (32, 48)
CHS = (16, 24, 32, 40)
#: The image the RoIs are placed on (stride 4 to the finest level).
IMG = (4 * HW[0], 4 * HW[1])
#: Mask R-CNN and a Cascade Mask R-CNN with batch-normed box convs, on 24-channel levels.
RCNN = {
    "mask_rcnn": RCNNLayout(
        in_chs=24, num_classes=5, conv_chs=16, fc_chs=32, proposals=12, mask_proposals=5
    ),
    "cascade": RCNNLayout(
        in_chs=24,
        num_classes=5,
        stages=3,
        box_convs=2,
        box_fcs=1,
        box_norm="bn",
        conv_chs=16,
        fc_chs=32,
        class_agnostic_reg=True,
        mask_convs=2,
        proposals=12,
        mask_proposals=5,
    ),  # fmt: skip
    "vitdet": RCNNLayout(
        in_chs=24,
        num_classes=5,
        rpn_convs=2,
        box_convs=1,
        box_fcs=1,
        box_norm="ln",
        conv_chs=16,
        fc_chs=32,
        mask_convs=1,
        mask_norm="ln",
        proposals=12,
        mask_proposals=5,
    ),  # fmt: skip
}

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
    """name -> (the levels' channels, build, cost twin, training twin)."""
    hws = OnPyramid.grids(HW, 4)
    strides = (4, 8, 16, 32)
    cases = {
        "fpn": (
            CHS,
            lambda **dd: FPN(CHS, 24, num_outs=5, **dd),
            fpn_cost(CHS, 24, num_outs=5, in_hws=hws),
            lambda t, feats: fpn_train(t, feats, CHS, 24, num_outs=5, in_hws=hws),
        ),
        "semantic_fpn": (
            CHS,
            lambda **dd: SemanticFPNHead(CHS, 32, 7, strides=strides, norm="gn", **dd),
            semantic_fpn_cost(CHS, 32, 7, strides=strides, norm="gn", in_hws=hws),
            lambda t, feats: semantic_fpn_train(
                t, feats, CHS, 32, 7, strides=strides, norm="gn", in_hws=hws
            ),
        ),
        "sfp": (
            (32,),
            lambda **dd: SimpleFeaturePyramid(32, 24, **dd),
            sfp_cost(32, 24, hw=HW),
            lambda t, feats: sfp_train(t, feats, 32, 24, hw=HW),
        ),
    }
    for name, lay in RCNN.items():
        cases[name] = (
            (lay.in_chs,) * 4,
            lambda lay=lay, **dd: RCNNHead(lay, img_hw=IMG, **dd),
            rcnn_cost(lay, hws),
            lambda t, feats, lay=lay: rcnn_train(t, feats, lay, hws),
        )
    return cases


CASES = _cases()


def _model(name: str) -> tuple[TrainModel, object, tuple[int, ...]]:
    chs, build, node, twin = CASES[name]
    hws = OnPyramid.grids(HW, len(chs))
    shape = (sum(chs), *HW)

    def train(_plan: object, t: Tape) -> object:
        x = t.image(sum(chs) * HW[0] * HW[1])
        feats = []
        for c, hw in zip(chs, hws, strict=True):
            f = Tape.view(x, c * hw[0] * hw[1])
            f.grad = True
            feats.append(f)
        with t.module("inner"):
            return twin(t, feats)

    model = TrainModel(CostNode.of([("inner", node)]), SimpleNamespace(input_shape=shape), train)
    return model, lambda **dd: GradPyramid(build(**dd), chs), shape


@pytest.mark.parametrize("name", sorted(CASES))
def test_train_macs_equal_traced(name) -> None:
    model, build, shape = _model(name)
    analytic = model.macs_per_path()
    traced = traced_train_macs(build, shape)
    for path in sorted(set(analytic) | set(traced.per_path)):
        a, got = analytic.get(path, TrainMacs()), traced.per_path.get(path, TrainMacs())
        assert a == got, f"at {path!r}: analytic {a} != traced {got}"
    assert analytic[""].backward > analytic[""].forward


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.device}-{c.dtype}")
@pytest.mark.parametrize("name", sorted(CASES))
def test_kept_equals_census(name, config) -> None:
    model, build, shape = _model(name)
    analytic = kept_by_path(model.tape(), column_of(config), config.batch)
    census = saved_census(build, shape, config)
    counted = census.by_path()
    for path in sorted(set(analytic) | set(counted)):
        a, c = analytic.get(path, 0), counted.get(path, 0)
        assert a == c, f"{config.device} {config.dtype}: kept at {path!r}: analytic {a} != {c}"
    assert counted["inner"] > 0
    _assert_params_and_copies(model, build, census, config)


#: Task models through the whole model: (spec, preset, size), at small sizes.
TASKS = [
    ("swin/t.yaml", "coco-maskrcnn", (256, 384)),
    ("swin/t.yaml", "coco-cascade", (256, 384)),
    ("swin/t.yaml", "ade-fpn", (128, 192)),
]


def _task(spec: str, preset: str, size: tuple[int, int]) -> tuple[TrainModel, object, object]:
    plan = plan_task(load_spec(SPECS / spec), preset, size)
    model = TrainModel.of(train_family(plan), plan, cost_task(plan))
    return model, partial(build_task, plan), plan


@pytest.mark.parametrize("checkpoint", ["none", "blocks"])
@pytest.mark.parametrize(("spec", "preset", "size"), TASKS, ids=lambda v: str(v))
def test_task_model_train_macs_equal_traced(spec, preset, size, checkpoint) -> None:
    model, build, plan = _task(spec, preset, size)
    analytic = model.macs_per_path(checkpoint)
    units = model.units(checkpoint)
    traced = traced_train_macs(build, plan.input_shape, checkpoint_units=units)
    for path in sorted(set(analytic) | set(traced.per_path)):
        a, got = analytic.get(path, TrainMacs()), traced.per_path.get(path, TrainMacs())
        assert a == got, f"at {path!r}: analytic {a} != traced {got}"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.device}-{c.dtype}")
@pytest.mark.parametrize(("spec", "preset", "size"), TASKS, ids=lambda v: str(v))
def test_task_model_kept_equals_census(spec, preset, size, config) -> None:
    model, build, plan = _task(spec, preset, size)
    analytic = kept_by_path(model.tape(), column_of(config), config.batch)
    census = saved_census(build, plan.input_shape, config)
    counted = census.by_path()
    for path in sorted(set(analytic) | set(counted)):
        a, c = analytic.get(path, 0), counted.get(path, 0)
        assert a == c, f"{config.device} {config.dtype}: kept at {path!r}: analytic {a} != {c}"
    assert counted["head"] > 0 and counted["backbone"] > 0
    _assert_params_and_copies(model, build, census, config)


def _assert_params_and_copies(model: TrainModel, build, census, config: TrainConfig) -> None:
    """Every parameter gets one gradient and one autocast copy, however often its module runs
    (the RPN runs once per level)."""
    tape = model.tape()
    with torch.device("meta"):
        built = build(device="meta")
    params = list(built.parameters())
    assert tape.grad_params == sum(p.numel() for p in params)
    assert tape.param_tensors == len(params)
    assert sum(e.copies[column_of(config)] for e in tape.events) == census.weight_copies


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize(("spec", "preset", "size"), TASKS, ids=lambda v: str(v))
def test_task_model_states_and_peak_match_the_simulation(spec, preset, size, dtype) -> None:
    """Parameters, optimizer state and buffers (the fixed boxes included) exactly; the peak
    within the families' tolerance (the R-CNN heads' bf16 peak is the loss's backward over their
    fp32 mask logits)."""
    config = TrainConfig(batch=2, dtype=dtype, device="cpu")
    model, build, plan = _task(spec, preset, size)
    analytic = model.cost(config).memory
    sim = simulate_train_peak(build, plan.input_shape, config)
    assert analytic.params + analytic.optimizer + analytic.buffers + analytic.input == sim.states
    assert abs(analytic.peak / sim.peak - 1) <= PEAK_TOLERANCE, (analytic.peak, sim.peak)
