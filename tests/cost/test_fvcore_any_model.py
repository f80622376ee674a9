"""Model objects under ``--convention fvcore`` against fvcore itself: fvcore's own documented
example, and every kind of call ``hirisearch.profile(model, inputs=...)`` takes (a tensor, a tuple,
a dict of keyword arguments, integer tokens, 2-D inputs, shapes), training-mode BatchNorm, norms,
resampling, shared modules, activation counts and user-supplied operator counts."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import hirisearch

fvcore_nn = pytest.importorskip("fvcore.nn")


def _fvcore(model: nn.Module, args: tuple[Any, ...], handles: dict | None = None) -> tuple:
    """fvcore's flop and activation totals and its flops per module."""
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    flops = fvcore_nn.FlopCountAnalysis(model, args)
    acts = fvcore_nn.ActivationCountAnalysis(model, args)
    for a in (flops, acts):
        a.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    flops.set_op_handle(**(handles or {}))
    return flops.total(), acts.total(), dict(flops.by_module())


class TestModel(nn.Module):
    """fvcore's own example (``FlopCountAnalysis``'s docstring): 13000 flops, fc 10000."""

    __test__ = False  # fvcore's name for it, not a test class

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features=1000, out_features=10)
        self.conv = nn.Conv2d(in_channels=3, out_channels=10, kernel_size=1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.conv(x)).flatten(1))


def test_fvcores_documented_example() -> None:
    model, x = TestModel(), torch.randn((1, 3, 10, 10))
    r = hirisearch.profile(model, inputs=(x,), convention="fvcore", depth=2)
    total, acts, by_module = _fvcore(model, (x,))
    assert r.macs == total == 13000 and r.acts == acts
    rows = {s.path: s.macs for s in r.stages}
    assert rows == {"fc": 10000, "conv": 3000, "act": 0}
    assert all(by_module[p] == v for p, v in rows.items())


class Norms(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.gn = nn.GroupNorm(2, 8)
        self.ln = nn.LayerNorm(8)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(self.gn(self.bn(self.conv(x))), scale_factor=2, mode="bilinear")
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        return self.drop(self.ln(F.adaptive_avg_pool2d(y, 1).flatten(1)))


class Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.img = nn.Conv2d(3, 16, 4, 4)
        self.emb = nn.Embedding(100, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.img(image).mean((2, 3)) + self.emb(tokens).mean(1))


class Keywords(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = Tokens()

    def forward(self, image: torch.Tensor | None = None, tokens: torch.Tensor | None = None):  # noqa: ANN201
        return self.inner(image, tokens)


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(16, 16)
        self.a = nn.Sequential(shared, nn.ReLU())
        self.b = nn.Sequential(nn.Linear(16, 16), shared)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


IMAGE = torch.randn(2, 3, 8, 8)
TOKENS = torch.randint(0, 100, (2, 7))

CASES = {
    "tensor": (Norms(), {"inputs": torch.randn(2, 3, 9, 9)}),
    "tensor-train": (Norms(), {"inputs": torch.randn(2, 3, 9, 9), "mode": "train"}),
    "tuple-int-tokens": (Tokens(), {"inputs": (IMAGE, TOKENS)}),
    "dict-keywords": (Keywords(), {"inputs": {"image": IMAGE, "tokens": TOKENS}}),
    "shapes-with-dtypes": (Tokens(), {"input_shape": [(3, 8, 8), "int64:7"], "batch": 2}),
    "two-dimensional": (
        nn.Sequential(nn.Linear(12, 6), nn.LayerNorm(6)),
        {"inputs": torch.randn(5, 12)},
    ),
    "shared-module": (Shared(), {"inputs": torch.randn(3, 16)}),
}


def _args(call: dict) -> tuple[Any, ...]:
    if "inputs" in call:
        given = call["inputs"]
        if isinstance(given, dict):
            return tuple(given.values())  # fvcore takes positional arguments only
        return given if isinstance(given, tuple) else (given,)
    return (IMAGE, torch.zeros(2, 7, dtype=torch.long))


@pytest.mark.parametrize("case", CASES)
def test_every_kind_of_call_counts_as_fvcore(case: str) -> None:
    model, call = CASES[case]
    r = hirisearch.profile(model, convention="fvcore", **call)
    model.train(call.get("mode") == "train")
    total, acts, _ = _fvcore(model, _args(call))
    model.eval()
    assert r.macs == total and r.acts == acts and r.mode == call.get("mode", "eval")
    assert r.convention.startswith("GFLOPs as fvcore counts them") and r.traced_mode == "meta"


def test_training_mode_is_the_only_difference() -> None:
    model, x = Norms().eval(), torch.randn(2, 3, 9, 9)
    ev = hirisearch.profile(model, inputs=x, convention="fvcore")
    tr = hirisearch.profile(model, inputs=x, convention="fvcore", mode="train")
    bn_elements = 2 * 8 * 7 * 7
    assert tr.macs - ev.macs == (5 - 2) * bn_elements  # fvcore: BN 2 at inference, 5 training
    assert not model.training


# A custom operator (torch.library), with a meta kernel, that neither counter knows.
@torch.library.custom_op("hirisearch_test::mix", mutates_args=())
def mix(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x @ w


@mix.register_fake
def _(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x.new_empty(x.shape[0], w.shape[1])


class Mixer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(16, 8))
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.ops.hirisearch_test.mix(x, self.w).cumsum(1))


def _mix_macs(x: torch.Size, w: torch.Size, *, out_shape: torch.Size) -> int:
    return x[0] * x[1] * w[1]


def _cumsum_macs(x: torch.Size, *args: Any, out_shape: torch.Size, **kwargs: Any) -> int:
    return math.prod(x)


def test_user_supplied_operator_counts_match_fvcore_handles() -> None:
    from fvcore.nn.jit_handles import get_shape

    model, x = Mixer(), torch.randn(4, 16)
    plain = hirisearch.profile(model, inputs=x)
    assert {"hirisearch_test::mix", "cumsum"} <= set(plain.uncounted_ops)
    hirisearch.register_op_count("aten::cumsum", _cumsum_macs)
    try:
        r = hirisearch.profile(
            model, inputs=x, convention="fvcore", custom_ops={"hirisearch_test::mix": _mix_macs}
        )
    finally:
        hirisearch.unregister_op_count("aten::cumsum")
    handles = {
        "hirisearch_test::mix": lambda i, o: math.prod(get_shape(i[0])) * get_shape(i[1])[1],
        "aten::cumsum": lambda i, o: math.prod(get_shape(i[0])),
    }
    total, _, _ = _fvcore(model, (x,), handles)
    assert r.macs == total == 4 * 16 * 8 + 4 * 8 + 4 * 8 * 2
    assert r.custom_ops == ("cumsum", "hirisearch_test::mix")
    assert not {"hirisearch_test::mix", "cumsum"} & set(r.uncounted_ops)
    assert "user-supplied ops" in str(r.table())
    after = hirisearch.profile(model, inputs=x)  # unregistered: uncounted again
    assert after.custom_ops == () and after.macs == plain.macs


def test_a_wrong_operator_count_is_one_line() -> None:
    model, x = Mixer(), torch.randn(4, 16)
    with pytest.raises(hirisearch.HirisearchError, match="must return a non-negative int"):
        hirisearch.profile(model, inputs=x, custom_ops={"aten::cumsum": lambda *a, **k: 1.5})
    with pytest.raises(hirisearch.HirisearchError, match="torch has no operator aten::nosuch"):
        hirisearch.profile(model, inputs=x, custom_ops={"aten::nosuch": _cumsum_macs})
    with pytest.raises(hirisearch.HirisearchError, match="namespace::name"):
        hirisearch.register_op_count("not an op", _cumsum_macs)
