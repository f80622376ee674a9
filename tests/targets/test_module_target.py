"""Any ``nn.Module`` with any inputs: ``hirisearch.profile(model, inputs=...)`` and its
``input_shape=``, ``compare`` and ``bench`` forms; the model is never changed by a call; wrong
calls are one line listing what is accepted."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import hirisearch
from hirisearch.errors import HirisearchError
from tests.conftest import SPECS


class TwoInputs(nn.Module):
    """An image and a token sequence (int64), as a CLIP-like model takes them."""

    def __init__(self) -> None:
        super().__init__()
        self.img = nn.Conv2d(3, 16, 4, 4)
        self.emb = nn.Embedding(100, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(self.img(image).mean((2, 3)) + self.emb(tokens).mean(1))


# image conv 3x16 over 16 cells per 4x4 patch x 4 patches (8x8 input), then fc 16x4
TWO_MACS = 2 * (3 * 16 * 16 * 4 + 16 * 4)


def test_the_done_when_line() -> None:
    r = hirisearch.profile(nn.Linear(8, 4), inputs=torch.randn(5, 8))
    assert r.macs == 160 and r.batch == 5 and r.input_shape == (5, 8)
    assert r.categories_traced is not None and r.categories_traced["linear"] == 160
    assert r.attn_share == 0.0 and r.mode == "eval" and r.inputs == ("float32[5,8]",)
    assert "linear 100.0%" in str(r.table())


@pytest.mark.parametrize(
    "call",
    [
        {"inputs": (torch.randn(2, 3, 8, 8), torch.randint(0, 100, (2, 7)))},
        {
            "inputs": {
                "image": torch.randn(2, 3, 8, 8),
                "tokens": torch.zeros(2, 7, dtype=torch.long),
            }
        },
        {"input_shape": [(3, 8, 8), "int64:7"], "batch": 2},
        {"input_shape": [(3, 8, 8), (7,)], "batch": 2, "trace_limit": None},
    ],
    ids=["tuple", "dict", "shapes-with-dtype", "shapes"],
)
def test_every_form_of_inputs_gives_the_same_count(call: dict) -> None:
    if call.get("input_shape") == [(3, 8, 8), (7,)]:  # float tokens cannot index: refused
        with pytest.raises(HirisearchError, match="forward failed"):
            hirisearch.profile(TwoInputs(), **call)
        return
    r = hirisearch.profile(TwoInputs(), **call)
    assert r.macs == TWO_MACS and r.batch == 2 and r.traced_mode == "meta"
    assert any("int64[2,7]" in i for i in r.inputs) and r.acts == 2 * (16 * 4 + 4)


def test_an_input_shape_of_any_rank_and_a_resolution_for_images() -> None:
    r = hirisearch.profile(nn.Linear(12, 3), input_shape=(7, 12), batch=4)
    assert r.macs == 4 * 7 * 12 * 3 and r.input_shape == (4, 7, 12)
    conv = nn.Conv2d(3, 8, 3, padding=1)
    small = hirisearch.profile(conv, input_shape=(3, 16, 16))
    large = hirisearch.profile(conv, 32, input_shape=(3, 16, 16))  # --res on a C,H,W input
    assert large.macs == 4 * small.macs and large.img_size == 32


def test_the_model_is_not_changed(tmp_path) -> None:  # noqa: ANN001
    class Flaky(nn.Module):  # reads a value: no meta kernel, so counted eagerly in place
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.drop = nn.Dropout(0.5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.abs().max().item() > 1e9:
                return x
            return self.drop(self.bn(self.conv(x)))

    for model in (Flaky(), nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout())):
        model.train()
        model[1].eval() if isinstance(model, nn.Sequential) else model.bn.eval()
        next(model.parameters()).requires_grad_(False)
        x = torch.randn(2, 3, 8, 8)
        state = copy.deepcopy(model.state_dict())
        objects = [id(t) for t in (*model.parameters(), *model.buffers())]
        modes = [m.training for m in model.modules()]
        flags = [p.requires_grad for p in model.parameters()]
        rng = torch.get_rng_state()
        for mode in ("eval", "train"):
            r = hirisearch.profile(model, inputs=x, mode=mode, depth=2)
            assert r.mode == mode and r.macs == 2 * 4 * 3 * 9 * 36
        hirisearch.compare([model], inputs=x)
        hirisearch.bench(model, inputs=x, device="cpu", min_time_s=0.01, warmup_s=0.0)
        assert [m.training for m in model.modules()] == modes
        assert [p.requires_grad for p in model.parameters()] == flags
        assert [id(t) for t in (*model.parameters(), *model.buffers())] == objects
        assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
        assert torch.equal(rng, torch.get_rng_state())
        assert next(model.parameters()).device.type == "cpu"
    assert r.traced_mode == "meta"  # the Sequential: a meta copy
    flaky = hirisearch.profile(Flaky(), inputs=x)
    assert flaky.traced_mode == "eager-cpu" and "counted eagerly on the CPU" in flaky.warnings[0]


def test_training_mode_counts_batch_norm_on_batch_statistics() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    x = torch.randn(2, 3, 10, 10)
    ev = hirisearch.profile(model, inputs=x)
    tr = hirisearch.profile(model, inputs=x, mode="train")
    elements = 2 * 8 * 8 * 8
    assert ev.norm == 2 * elements and tr.norm == 5 * elements  # fvcore's 2 and 5 per element
    assert ev.macs == tr.macs
    spec = hirisearch.profile(str(SPECS / "s.yaml"), 64, batch=2, mode="train")
    eval_spec = hirisearch.profile(str(SPECS / "s.yaml"), 64, batch=2)
    assert spec.macs_analytic is None and spec.macs == eval_spec.macs
    assert spec.norm > eval_spec.norm  # BatchNorm 5 per element instead of 2
    with pytest.raises(HirisearchError, match="Expected more than 1 value per channel"):
        hirisearch.profile(str(SPECS / "s.yaml"), 64, mode="train")  # BN on one 1x1 sample
    with pytest.raises(HirisearchError, match="drop --no-trace"):
        hirisearch.profile(model, inputs=x, mode="train", trace=False)
    with pytest.raises(HirisearchError, match="mode must be one of eval, train"):
        hirisearch.profile(model, inputs=x, mode="training")


def test_compare_and_bench_take_model_objects() -> None:
    small, wide = nn.Conv2d(3, 8, 3), nn.Conv2d(3, 16, 3)
    c = hirisearch.compare([small, wide], input_shape=(3, 16, 16))
    assert [round(row.ratio, 2) for row in c.rows] == [1.0, 2.0]
    assert c.rows[0].profile.spec != c.rows[1].profile.spec  # two objects, two rows
    mixed = hirisearch.compare([str(SPECS / "deit" / "t.yaml"), small], [64], input_shape=(3, 8, 8))
    assert mixed.rows[1].profile.img_size == 64 and mixed.rows[0].profile.family == "vit"
    (b,) = hirisearch.bench(small, inputs=torch.randn(3, 3, 16, 16), device="cpu", min_time_s=0.01)
    assert b.status == "ok" and b.batch == 3 and b.macs == 3 * 8 * 27 * 14 * 14


@pytest.mark.parametrize(
    ("call", "words"),
    [
        ({"target": 42}, "a target is a spec path or shipped name, a mapping"),
        ({"target": nn.Linear(2, 2)}, "give exactly one of inputs="),
        (
            {"target": nn.Linear(2, 2), "inputs": torch.ones(1, 2), "input_shape": (2,)},
            "give exactly one of inputs=",
        ),
        ({"target": nn.Linear(2, 2), "inputs": [1, 2]}, "the inputs hold no tensor"),
        ({"target": nn.Linear(2, 2), "inputs": 3.0}, "inputs is a tensor, a tuple of"),
        ({"target": nn.Linear(2, 2), "inputs": torch.ones(3, 2), "batch": 2}, "their own batch"),
        ({"target": nn.Linear(2, 2), "inputs": torch.ones(3, 2), "img_size": 64}, "a resolution"),
        ({"target": "timm:resnet18", "input_shape": (3, 8, 8)}, "apply to code targets only"),
        ({"target": {"family": "vit"}, "inputs": torch.ones(1)}, "apply to nn.Module objects"),
        ({"target": nn.Linear(2, 2), "input_shape": [(2,), "int65:3"]}, "unknown dtype 'int65'"),
    ],
)
def test_a_wrong_call_is_one_line_listing_what_is_accepted(call: dict, words: str) -> None:
    target = call.pop("target")
    with pytest.raises(HirisearchError) as e:
        hirisearch.profile(target, **call)
    assert words in e.value.one_line() and "\n" not in e.value.one_line()
