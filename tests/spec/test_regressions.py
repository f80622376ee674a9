"""Failures the hardening work found (by fuzzing or by hand), each shrunk to one ordinary test.
Before the fix, each one crashed with an internal error, ran out of memory, or was silently
accepted; the comment says which."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import yaml

from hirisearch.cost.counters import count_traced
from hirisearch.errors import CountingError
from tests.conftest import SPECS
from tests.fuzzing import assert_refused, run_cli

BASE = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())


def _spec(tmp_path: Path, **edits) -> str:
    d = copy.deepcopy(BASE)
    d.update(edits)
    p = tmp_path / "regression.yaml"
    p.write_text(yaml.safe_dump(d))
    return str(p)


@pytest.mark.parametrize(
    ("edits", "field", "words"),
    [
        # internal error: OverflowError: cannot convert float infinity to integer
        (dict(mlp_ratios=[4, 4, 8, math.inf, 4]), "mlp_ratios[3]", "finite number"),
        # internal error: ValueError: cannot convert float NaN to integer
        (dict(mlp_ratios=[4, 4, 8, math.nan, 4]), "mlp_ratios[3]", "finite number"),
        (dict(downsample_ratio=math.inf), "downsample_ratio", "finite number"),
        (dict(head_mlp_ratio=math.inf), "head_mlp_ratio", "finite number"),
        # misleading: "Input should be less than 1, but got nan"
        (dict(drop_path_rate=math.nan), "drop_path_rate", "finite number"),
        # internal error: ZeroDivisionError (an MLP of hidden width 0)
        (dict(mlp_ratios=[4, 4, 8, 1e-9, 4]), "mlp_ratios[3]", "int(dims[3] * mlp_ratios[3]) >= 1"),
        (dict(head_mlp_ratio=1e-9), "head_mlp_ratio", "int(dims[-1] * head_mlp_ratio) >= 1"),
        # killed by the OOM killer: a plan and a cost tree of 10^9 blocks
        (dict(depths=[2, 3, 4, 10**9, 3]), "depths[3]", "<= 100000"),
        (dict(depths=[2, 3, 4, 60_000, 60_000]), "depths", "sum(depths) <= 100000"),
        # silently accepted: true read as 1, "2" read as 2, 1 read as true
        (dict(depths=[True, 3, 4, 6, 3]), "depths[0]", "expected an integer, but got a boolean"),
        (dict(dims=["32", 64, 128, 320, 448]), "dims[0]", "expected an integer, but got a string"),
        (dict(qkv_bias=1), "qkv_bias", "expected true or false"),
        (dict(mlp_ratios=[4, 4, "8", 4, 4]), "mlp_ratios[2]", "expected a number"),
        # silently accepted: negative heads on an 'hr' stage
        (dict(num_heads=[-3, 0, 4, 10, 14]), "num_heads[0]", "0 <= num_heads[0] <= dims[0]"),
        # internal error (TypeError: overflow when unpacking long long) in the traced count
        (dict(dims=[32, 64, 128, 10**30, 448]), "dims[3]", "<= 4294967296"),
        (dict(img_size=10**30), "img_size", "<= 4294967296"),
        (dict(img_size=2**21), "img_size", "less than or equal to 1048576"),
    ],
)
def test_fixed_spec_values(tmp_path: Path, edits: dict, field: str, words: str) -> None:
    p = _spec(tmp_path, **edits)
    assert_refused(run_cli(["profile", p, "--json"], "regression"), f"{p}: {field}: ", words)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        # silently kept the last value
        ("family: hiri_vit\nname: a\nname: b\n", "line 3, column 1: duplicate key 'name'"),
        # fuzz-found: no position given for too-deep nesting
        ("family: hiri_vit\ndepths: " + "[" * 40 + "]" * 40 + "\n", "line 2, column"),
        # "but got a NoneType"
        ("# nothing but a comment\n", "no YAML content"),
    ],
)
def test_fixed_files(tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "regression.yaml"
    p.write_text(content)
    assert_refused(run_cli(["validate", str(p)], "regression"), str(p), words)


def test_res_beyond_64_bit_is_refused_not_counted_eagerly() -> None:
    # internal error: the meta count overflowed, then the eager fallback tried to allocate
    s = str(SPECS / "s.yaml")
    assert_refused(run_cli(["profile", s, "--res", str(10**30)], "regression"), "--res")


def test_meta_overflow_never_falls_back_to_an_eager_run() -> None:
    built = []

    def build(device=None, dtype=None):  # noqa: ANN001, ANN202
        built.append(device)
        return torch.nn.Conv2d(3, 8, 3, device=device, dtype=dtype)

    with pytest.raises(CountingError, match="too large for torch's 64-bit sizes"):
        count_traced(build, (3, 2**31, 2**31))
    assert built == ["meta"]
