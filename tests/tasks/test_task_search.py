"""Search spaces with ``task:``: candidates are whole task models, budgets bound the whole model,
and exact mode runs over the task model's sections (the head's depend on the backbone's width)."""

from __future__ import annotations

import pickle

import pytest

from hirisearch.errors import SpecError
from hirisearch.ops.search.candidate import evaluate
from hirisearch.ops.search.space import load_space, parse_space
from hirisearch.tasks.model import TaskPlan

SPACE = "search/swin_t_upernet"


def test_candidates_are_task_models_at_the_preset_size() -> None:
    space = load_space(SPACE)
    c = evaluate(space, {"embed_dim": 144, "depths.2": 2, "mlp_ratio": 3.0})
    assert isinstance(c.plan, TaskPlan) and c.plan.img_hw == (512, 512)
    assert [n for n, _ in c.tree.children] == ["backbone", "head"]
    # the budget's 250 GFLOPs bound the whole model: this one's backbone fits, the model does not
    wide = evaluate(space, {"embed_dim": 144, "depths.2": 8, "mlp_ratio": 4.0})
    assert wide.tree.child("backbone").total.macs / 1e9 < 250 < wide.cost.macs / 1e9


def test_the_head_moves_with_the_backbone_width() -> None:
    space = load_space(SPACE)
    heads = {
        e: evaluate(space, {"embed_dim": e, "depths.2": 6, "mlp_ratio": 4.0})
        .tree.child("head")
        .total.macs
        for e in (48, 96, 144)
    }
    assert heads[48] < heads[96] < heads[144]


def test_a_task_space_pickles_and_takes_res() -> None:
    space = load_space(SPACE)
    again = pickle.loads(pickle.dumps(space))
    values = {"embed_dim": 96, "depths.2": 6, "mlp_ratio": 4.0}
    assert evaluate(again, values).cost == evaluate(space, values).cost
    small = space.with_overrides(img_size=256)
    assert evaluate(small, values).plan.img_hw == (256, 256)
    assert pickle.loads(pickle.dumps(small)).task.img_size == (256, 256)


def test_an_unknown_task_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="task: must be a task preset .*ade-upernet"):
        parse_space(
            {"base": "swin/t.yaml", "task": "coco", "axes": {"depths.2": {"choices": [2, 6]}}},
            file="space.yaml",
        )
