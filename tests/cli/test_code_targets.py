"""CLI: torchvision:<name>, module:callable and file.py:callable targets, --kwargs and
--input-shape, per-module tables without an analytic model, and one-line errors for user code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hirisearch.cli import app, main
from tests.conftest import SPECS

runner = CliRunner()

NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width=8, img_size=224):
        super().__init__()
        self.img_size = img_size
        self.stem = nn.Conv2d(3, width, 4, 4)
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(self.body(self.stem(x)).mean((2, 3)))


def build(width=8, img_size=224):
    return Net(width, img_size)


def broken(**kwargs):
    raise ValueError("no such variant")


def not_a_module():
    return 42


def picky():
    return nn.Linear(5, 5)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.img = nn.Conv2d(3, 8, 4, 4)
        self.emb = nn.Embedding(50, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, image, tokens):
        return self.fc(self.img(image).mean((2, 3)) + self.emb(tokens).mean(1))


def two_inputs():
    return TwoInputs()


def with_example(img_size=32):
    return TwoInputs(), (torch.randn(2, 3, img_size, img_size), torch.randint(0, 50, (2, 5)))
"""


def _two_macs(size: int, batch: int) -> int:
    return batch * (3 * 16 * 8 * (size // 4) ** 2 + 8 * 2)


def _macs(width: int, size: int) -> int:
    """MACs of ``Net`` by hand: stem conv, body conv, head."""
    g = size // 4
    return 3 * 16 * width * g * g + width * width * 9 * g * g + width * 10


def _params(width: int) -> int:
    return (3 * 16 * width + width) + (width * width * 9 + width) + 2 * width + (width * 10 + 10)


@pytest.fixture
def net(tmp_path: Path) -> Path:
    p = tmp_path / "my_net.py"
    p.write_text(NET)
    return p


def _json(args: list[str]) -> list[dict]:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.strip().splitlines()]


def test_file_factory_at_448_with_kwargs(net: Path) -> None:
    (doc,) = _json(["profile", f"{net.name}:build", "--res", "448", "--json"])
    assert doc["family"] == "factory" and doc["macs_analytic"] is None
    assert doc["params"] == _params(8) and doc["macs"] == _macs(8, 448)
    (doc,) = _json(["profile", f"{net}:build", "--kwargs", "width=16", "--json"])
    assert doc["img_size"] == 224 and doc["macs"] == _macs(16, 224)


def test_module_factory_and_input_shape(net: Path) -> None:
    (doc,) = _json(["profile", "my_net:build", "--input-shape", "3,128,256", "--json"])
    assert doc["input_shape"] == [1, 3, 128, 256]
    g = (128 // 4) * (256 // 4)
    assert doc["macs"] == (3 * 16 * 8 + 8 * 8 * 9) * g + 80


def test_several_inputs_with_a_dtype_each(net: Path) -> None:
    args = ["--input-shape", "3,32,32", "--input-shape", "int64:5", "--json"]
    (doc,) = _json(["profile", f"{net.name}:two_inputs", *args])
    assert doc["inputs"] == ["float32[1,3,32,32]", "int64[1,5]"] and doc["img_size"] == 32
    assert doc["macs"] == _two_macs(32, 1) and doc["traced_mode"] == "meta"
    (doc,) = _json(["profile", f"{net.name}:two_inputs", "--res", "64", "--batch", "3", *args])
    assert doc["inputs"] == ["float32[3,3,64,64]", "int64[3,5]"]
    assert doc["macs"] == _two_macs(64, 3)
    res = runner.invoke(app, ["profile", f"{net.name}:two_inputs", *args[:-1]])
    assert res.exit_code == 0, res.output
    assert "inputs float32[1,3,32,32], int64[1,5], batch 1, fp32, eval mode" in res.stdout


def test_a_factory_returning_example_inputs(net: Path) -> None:
    (doc,) = _json(["profile", f"{net.name}:with_example", "--json"])  # told img_size=224
    assert doc["batch"] == 2 and doc["inputs"] == ["float32[2,3,224,224]", "int64[2,5]"]
    assert doc["macs"] == _two_macs(224, 2) and doc["img_size"] == 224
    (doc,) = _json(["compare", f"{net.name}:with_example", "--res", "64", "--json"])
    assert doc[0]["macs"] == _two_macs(64, 2) and doc[0]["img_size"] == 64
    assert main(["profile", f"{net.name}:with_example", "--batch", "4"]) != 0


def test_training_mode_on_the_command_line(net: Path) -> None:
    (ev,) = _json(["profile", f"{net.name}:build", "--json"])
    (tr,) = _json(["profile", f"{net.name}:build", "--mode", "train", "--json"])
    assert ev["mode"] == "eval" and tr["mode"] == "train" and tr["macs"] == ev["macs"]
    bn = 8 * 56 * 56
    assert ev["norm"] == 2 * bn and tr["norm"] == 5 * bn


def test_depth_table_has_blank_analytic_columns(net: Path) -> None:
    res = runner.invoke(
        app, ["profile", f"{net.name}:build", "--depth", "2"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    body = [line for line in res.stdout.splitlines() if "body.0" in line]
    assert body, res.stdout
    cells = [c.strip() for c in body[0].split("│")[1:-1]]
    assert cells[0] == "body.0" and cells[2] == "" and cells[3] != "" and cells[-1] == "0.03M"
    (doc,) = _json(["profile", f"{net.name}:build", "--depth", "2", "--json"])
    rows = {r["path"]: r for r in doc["rows"]}
    assert rows["body.0"]["macs_analytic"] is None
    assert rows["body.0"]["macs_traced"] == 8 * 8 * 9 * 56 * 56
    # activations come from the traced pass: the outputs of the conv
    assert rows["body.0"]["acts"] == 8 * 56 * 56 and doc["acts"] == 8 * 56 * 56 * 2 + 10


@pytest.mark.parametrize(
    ("ref", "extra", "words"),
    [
        ("{f}:broken", [], "my_net.py:broken: building the model failed: ValueError: no such"),
        ("{f}:not_a_module", [], "the factory returned int, not a torch.nn.Module"),
        ("{f}:picky", [], "picky: the model's forward failed on a 1x3x224x224 input"),
        ("{f}:nothing", [], "has no attribute 'nothing'; callables there:"),
        ("{f}:build", ["--kwargs", "depth=3"], "unexpected keyword argument 'depth'"),
        ("missing.py:build", [], "no such file 'missing.py'"),
        ("no_such_module:build", [], "no module named 'no_such_module'"),
        ("torchvision:resnet5", [], "unknown torchvision model 'resnet5'; closest: resnet50"),
        ("{s}", ["--kwargs", "width=3"], "--kwargs apply to factory"),
        ("{f}:build", ["--kwargs", "width"], "--kwargs: expected key=value pairs"),
        ("{f}:build", ["--input-shape", "3,0,224"], "--input-shape: expected [dtype:]sizes"),
        ("{f}:build", ["--input-shape", "int65:77"], "unknown dtype 'int65'"),
    ],
)
def test_bad_code_target_is_one_line(
    net: Path, ref: str, extra: list[str], words: str, capsys
) -> None:  # noqa: ANN001
    arg = ref.format(f=net.name, s=SPECS / "s.yaml")
    assert main(["profile", arg, *extra]) != 0
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "internal error" not in err


def test_torchvision_swin_v2_t_at_256() -> None:
    (doc,) = _json(["profile", "torchvision:swin_v2_t", "--res", "256", "--json"])
    from torchvision.models import Swin_V2_T_Weights

    meta = Swin_V2_T_Weights.DEFAULT.meta
    assert doc["params"] == meta["num_params"] and doc["traced_mode"] == "meta"
    assert abs(doc["macs"] / 1e9 - meta["_ops"]) <= 0.01 * meta["_ops"]


def test_compare_spec_torchvision_timm(tmp_path: Path) -> None:
    docs = _json(
        [
            "compare",
            str(SPECS / "s.yaml"),
            "torchvision:resnet50",
            "timm:convnext_tiny",
            "--res",
            "224",
            "448",
            "--json",
        ]
    )
    (docs,) = docs
    assert [(d["spec"].split("/")[-1], d["img_size"]) for d in docs] == [
        ("s.yaml", 224),
        ("s.yaml", 448),
        ("torchvision:resnet50", 224),
        ("torchvision:resnet50", 448),
        ("timm:convnext_tiny", 224),
        ("timm:convnext_tiny", 448),
    ]
    rn = {d["img_size"]: d["macs"] for d in docs if d["spec"] == "torchvision:resnet50"}
    assert 4.0e9 < rn[224] < 4.2e9 and rn[448] == pytest.approx(4 * rn[224], rel=0.01)


def test_compare_fvcore_header_names_it() -> None:
    res = runner.invoke(
        app, ["compare", "torchvision:resnet18", "--res", "64", "--convention", "fvcore"]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1].startswith("GFLOPs as fvcore counts them")


def test_code_target_modules_import_no_torch() -> None:
    # torch and torchvision are imported when a code target is built, not when its module loads
    code = (
        "import sys; import hirisearch.targets.code, hirisearch.targets.torchvision; "
        "print(sorted({'torch', 'torchvision', 'timm'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
