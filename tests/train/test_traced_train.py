"""The training cost of models without an analytic twin (timm, torchvision, code and module
targets, task models over a timm backbone): traced MACs against independent counts, the simulated
peak against a real CPU step, the per-operator batch lines against a third simulated batch, and
the one-line refusals of what only a twin models."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

import hirisearch
from hirisearch.cli import app
from hirisearch.errors import TrainError
from hirisearch.targets import resolve
from hirisearch.train.config import TrainConfig
from hirisearch.train.devices import Memory
from hirisearch.train.loss import training_loss
from hirisearch.train.simulate import simulate_train_peak
from hirisearch.train.traced_cost import PeakLines, simulated_train_cost
from tests.conftest import SPECS

runner = CliRunner()

NET = """
from torch import nn


class Net(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 4, 4)
        self.body = nn.Conv2d(width, width, 3, padding=1)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(self.body(self.stem(x)).mean((2, 3)))


def build(width=8):
    return Net(width)
"""


def _train_doc(args: list[str], out: Path) -> dict:
    res = runner.invoke(app, [*args, "--train", "--json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[0])["train"]


def test_traced_macs_of_a_timm_model_equal_a_real_steps_flop_count() -> None:
    """timm's ResNet-18 (no grouped convolution: torch 2.14's backward formula is right there):
    FlopCounterMode over a real CPU forward and backward, against the traced profile."""
    r = hirisearch.profile("timm:resnet18", 64, train={"batch": 2}, memories=["l4"])
    assert r.train is not None and r.train.basis == "traced"
    model = resolve("timm:resnet18").at(64).build(device="cpu").train()
    x = torch.randn(2, 3, 64, 64)
    with FlopCounterMode(display=False) as forward:
        loss = training_loss(model(x))
    with FlopCounterMode(display=False) as backward:
        loss.backward()
    macs = r.train.cost.macs
    assert macs.forward == forward.get_total_flops() // 2
    assert macs.backward == backward.get_total_flops() // 2
    assert macs.recompute == 0 and macs.backward < 2 * macs.forward  # the stem: no input grad
    assert sum(row.macs.total for row in r.train.rows) == macs.total


def test_a_code_target_is_three_forwards_less_the_images_gradient(tmp_path: Path) -> None:
    """A convolution and linear model from a file: backward is twice the forward, less the
    input gradient of the convolution reading the image (closed form)."""
    (tmp_path / "conv_net.py").write_text(NET)
    t = _train_doc(["profile", str(tmp_path / "conv_net.py") + ":build", "--res", "32",
                    "--batch", "3", "--kwargs", "width=16"], tmp_path / "r")  # fmt: skip
    w, g = 16, 8
    stem, body, head = 3 * 16 * w * g * g, w * w * 9 * g * g, w * 10
    assert t["basis"] == {"macs": "traced", "memory": "simulated", "max_batch": "simulated"}
    assert t["macs"]["forward"] == 3 * (stem + body + head)
    assert t["macs"]["backward"] == 3 * (stem + 2 * (body + head))
    params = (3 * 16 * w + w) + (w * w * 9 + w) + (w * 10 + 10)
    mem = t["memory_bytes"]
    assert (mem["params"], mem["grads"], mem["input"]) == (4 * params, 4 * params, 4 * 3 * 3072)
    assert mem["peak"] == t["peak_bytes_simulated"] > mem["params"] + mem["activations"]


def test_a_module_object_and_torchvision() -> None:
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
    r = hirisearch.profile(model, input_shape=(16,), train={"batch": 4}, memories=["l4"])
    assert r.train is not None
    first, second = 16 * 32, 32 * 8
    assert r.train.cost.macs.forward == 4 * (first + second)
    assert r.train.cost.macs.backward == 4 * (first + 2 * second)
    assert r.train.cost.max_batch["l4"] > 10**6
    tv = hirisearch.profile("torchvision:resnet18", 64, train=True, memories=["l4"]).train
    assert tv is not None and tv.basis == "traced" and tv.cost.macs.forward > 0


@pytest.mark.parametrize(
    ("ref", "size", "dtype"),
    [("timm:resnet18", 64, "fp32"), ("timm:vit_tiny_patch16_224", 64, "bf16")],
)
def test_the_batch_lines_hold_at_a_third_batch(ref: str, size: int, dtype: str) -> None:
    """Lines fitted at batch 2 and 3 give the simulated peak at batch 9 to the byte, and the
    largest batch of a memory is the last whose simulated step fits it (batch norm's running
    buffers and statistics do not depend on the batch)."""
    sized = resolve(ref).at(size)
    config = TrainConfig(batch=2, dtype=dtype)
    mem = Memory("small", 600 * 2**20, reserve=0)
    step = simulated_train_cost(sized.build, sized.input_shape, config, [mem])
    assert step.lines is not None and "batch 2 and 3" in step.fit
    sim = partial(simulate_train_peak, sized.build, sized.input_shape)
    assert step.lines.peak(9) == sim(TrainConfig(batch=9, dtype=dtype)).peak
    best = step.cost.max_batch["small"]
    assert 9 < best < 2000
    assert sim(TrainConfig(batch=best, dtype=dtype)).peak <= mem.usable
    assert sim(TrainConfig(batch=best + 1, dtype=dtype)).peak > mem.usable


class _Branchy(nn.Module):
    """A forward pass that runs one more operator per sample: no per-operator lines."""

    def __init__(self, device: object = None) -> None:
        super().__init__()
        self.fc = nn.Linear(256, 256, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        for _ in range(x.shape[0]):
            y = y * 1.5
        return y


def test_a_model_without_lines_is_searched_by_simulation() -> None:
    build, shape = _Branchy, (256,)
    mem = Memory("tiny", 3 * 2**20, reserve=0)
    step = simulated_train_cost(build, shape, TrainConfig(optimizer="sgd"), [mem])
    assert step.lines is None and step.fit.startswith("searched")
    best = step.cost.max_batch["tiny"]
    peak = partial(simulate_train_peak, build, shape)
    assert peak(TrainConfig(batch=best, optimizer="sgd")).peak <= mem.usable
    assert peak(TrainConfig(batch=best + 1, optimizer="sgd")).peak > mem.usable


def test_peak_lines() -> None:
    lines = PeakLines.fit(2, [10, 40, 30], 3, [12, 50, 31])
    assert lines is not None and lines.peak(2) == 40 and lines.peak(100) == 1020
    assert lines.max_batch(1020) == 100 and lines.max_batch(29) == 0 == lines.max_batch(27)
    assert PeakLines.fit(2, [1, 2], 3, [1]) is None


@pytest.mark.slow
def test_the_simulated_peak_is_within_ten_percent_of_a_real_cpu_step() -> None:
    config = {"batch": 4, "device": "cpu"}
    t = hirisearch.profile("timm:resnet18", 96, train=config, memories=[], measure=True).train
    assert t is not None and t.peak_bytes_measured is not None
    assert abs(t.peak_bytes_simulated / t.peak_bytes_measured - 1) < 0.10


def test_a_timm_backbone_under_a_task_gets_figures(tmp_path: Path) -> None:
    args = ["profile", "timm:resnet18", "--task", "ade-upernet", "--res", "128", "--batch", "2"]
    res = runner.invoke(app, [*args, "--json", "-o", str(tmp_path / "i")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[0])
    t = _train_doc(args, tmp_path / "t")
    rows = {s["path"]: s["macs"] for s in t["stages"]}
    inference = {s["path"]: s["macs_traced"] for s in doc["stages"]}
    assert rows["backbone"]["forward"] == inference["backbone"]  # both of the batch of 2
    assert rows["head"]["forward"] > inference["head"]  # the auxiliary head trains
    assert rows["backbone"]["backward"] > rows["backbone"]["forward"]
    assert t["basis"]["memory"] == "simulated" and t["max_batch"]["h100-80gb"] > 2
    table = runner.invoke(app, [*args, "--train", "--memory", "l4", "-o", str(tmp_path / "r")])
    assert "no analytic twin" in " ".join(table.stdout.split())
    assert "peak, simulated" in table.stdout and "peak, analytic" not in table.stdout


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--checkpoint", "blocks"], "use checkpoint none"),
        (["--shard", "2"], "use shard 1"),
        (["--no-trace"], "drop --no-trace"),
    ],
)
def test_what_needs_a_twin_is_refused_in_one_line(extra: list[str], words: str) -> None:
    res = runner.invoke(app, ["profile", "timm:resnet18", "--res", "64", "--train", *extra])
    out = " ".join(res.output.split())
    assert res.exit_code != 0 and words in out and "no analytic model" in out
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) <= 3


def test_inputs_other_than_one_float_tensor_are_refused() -> None:
    emb = nn.Embedding(50, 8)
    with pytest.raises(TrainError, match="one floating-point input"):
        hirisearch.profile(emb, inputs=torch.randint(0, 50, (2, 5)), train=True)


def test_a_spec_the_twin_does_not_model_is_traced() -> None:
    """A shipped spec whose layer forms no twin models yet (tests/train/conftest.py)."""
    r = hirisearch.profile(SPECS / "vit" / "vitdet_b.yaml", 64, train=True, memories=["l4"])
    assert r.train is not None and r.train.basis == "traced"
    assert r.train.cost.macs.forward == r.macs_traced


@pytest.mark.parametrize(
    ("ref", "size", "task", "batch", "figures"),
    [
        ("timm:convnext_tiny", 1024, None, 16, (1489.5, 4463.8, 18.9, 19.9, 63, 16)),
        ("timm:convnext_tiny", 512, "ade-upernet", 8, (1884.7, 5653.3, 4.3, 5.3, 135, 34)),
    ],
)
def test_the_documented_figures_hold(
    ref: str, size: int, task: str | None, batch: int, figures: tuple
) -> None:
    """docs/training.md ("Models without an analytic twin") and docs/tasks.md: bf16, AdamW."""
    r = hirisearch.profile(
        ref, size, task=task, train={"batch": batch, "dtype": "bf16"}, memories=["h100-80gb", "l4"]
    )
    assert r.train is not None
    c = r.train.cost
    got = (
        round(c.macs.forward / 1e9, 1),
        round(c.macs.total / 1e9, 1),
        round(c.memory.activations / 2**30, 1),
        round(c.memory.peak / 2**30, 1),
        c.max_batch["h100-80gb"],
        c.max_batch["l4"],
    )
    assert got == figures


def test_compare_names_the_traced_rows() -> None:
    args = ["compare", "timm:resnet18", str(SPECS / "deit" / "t.yaml"), "--res", "64", "--train"]
    res = runner.invoke(app, [*args, "--batch", "4", "--no-report"])
    assert res.exit_code == 0, res.output
    assert "(analytic; traced and simulated: resnet18)" in " ".join(res.stdout.split())
