"""Training configurations, memory sizes, units and results: one-line errors, JSON, no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hirisearch.errors import TrainError
from hirisearch.train import CUDA_RESERVE_BYTES, DEVICES, TrainConfig, parse_memory, train_cost
from hirisearch.train.units import checkpoint_units
from tests.train.conftest import FAMILY_SPECS, sized


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch": 0}, "`batch >= 1` must hold, but got batch=0"),
        ({"dtype": "fp8"}, "dtype must be one of fp32, bf16, fp16, but got 'fp8'"),
        ({"optimizer": "adam"}, "optimizer must be one of adamw, sgd, none, but got 'adam'"),
        ({"checkpoint": "all"}, "checkpoint must be one of none, stages, blocks"),
        ({"shard": 0}, "`shard >= 1` must hold, but got shard=0"),
        ({"zero_stage": 4}, "zero_stage must be 1, 2 or 3, but got 4"),
        ({"device": "tpu"}, "device must be one of cpu, cuda, but got 'tpu'"),
    ],
)
def test_config_errors(kwargs, message) -> None:
    with pytest.raises(TrainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**kwargs)


def test_memory_sizes_and_devices() -> None:
    assert parse_memory("80GB").total == 80 * 10**9
    assert parse_memory("24GiB").total == 24 * 2**30
    assert parse_memory(10**9).total == 10**9
    h100 = parse_memory("H100-80GB")
    assert h100.total == DEVICES["h100-80gb"][1] and h100.usable == h100.total - CUDA_RESERVE_BYTES
    for name in ("rtx-4090", "l4", "a100-40gb", "a100-80gb", "l40s", "h100-80gb", "h200"):
        assert parse_memory(name).usable > 0
    with pytest.raises(TrainError, match="unknown memory 'v100'"):
        parse_memory("v100")


def test_checkpoint_units() -> None:
    fam, plan, _ = sized(FAMILY_SPECS["swin"])
    tree = fam.cost(plan)
    assert checkpoint_units(tree, "none") == ()
    assert checkpoint_units(tree, "stages") == tuple(f"layers.{i}" for i in range(4))
    assert len(checkpoint_units(tree, "blocks")) == sum(s.depth for s in plan.stages)
    fam, plan, _ = sized(FAMILY_SPECS["vit"])
    assert checkpoint_units(fam.cost(plan), "stages") == ()  # one-stage ViT: no stage to wrap


def test_train_cost_json() -> None:
    fam, plan, _ = sized(FAMILY_SPECS["hiri_vit"], 448)
    cost = train_cost(fam, plan, TrainConfig(batch=8, dtype="bf16"), memories=["l4", "80GB"])
    doc = json.loads(json.dumps(cost.to_json()))
    assert doc["macs"]["total"] == doc["macs"]["forward"] + doc["macs"]["backward"]
    assert set(doc["memory_bytes"]) >= {"params", "grads", "optimizer", "activations", "peak"}
    assert doc["max_batch"]["l4"] < doc["max_batch"]["80GB"]


def test_analytic_training_cost_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from hirisearch.models import get_family\n"
        "from hirisearch.spec import load_spec\n"
        "from hirisearch.train import TrainConfig, train_cost\n"
        "spec = load_spec('specs/hiri_vit/s.yaml'); fam = get_family(spec.family)\n"
        "c = train_cost(fam, fam.plan(spec, 1024), TrainConfig(batch=32, dtype='bf16'),"
        " memories=['h100-80gb'])\n"
        "assert c.memory.peak > 0 and c.max_batch['h100-80gb'] > 0\n"
        "print('torch' in sys.modules)\n"
    )
    from tests.conftest import ROOT

    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
