"""Every layer's cost twin equals the built layer: params exactly, MACs / norms / activations
against torch's FlopCounterMode on the meta device (an independent count)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from hirisearch.cost.counters import count_module
from hirisearch.cost.types import CostNode
from hirisearch.layers.attention import attention_cost, class_attention_cost
from hirisearch.layers.attention_nn import Attention, ClassAttention
from hirisearch.layers.conv import conv_norm_act_cost
from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.hr_block import hr_block_cost
from hirisearch.layers.hr_block_nn import HRBlock
from hirisearch.layers.irds import irds_cost
from hirisearch.layers.irds_nn import IRDS
from hirisearch.layers.mlp import conv_ffn_cost, mlp_cost
from hirisearch.layers.mlp_nn import ConvFFN, Mlp
from hirisearch.layers.transformer import class_block_cost, transformer_block_cost
from hirisearch.layers.transformer_nn import ClassBlock, TransformerBlock


class _Tokens(nn.Module):
    """Runs a token layer that takes ``(x, hw)`` on a (B, N, C) input."""

    def __init__(self, inner: nn.Module, hw: tuple[int, int]) -> None:
        super().__init__()
        self.inner = inner
        self.hw = hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x, self.hw)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[..., nn.Module]
    cost: Callable[[], CostNode]
    input_shape: tuple[int, ...]
    wrap_hw: tuple[int, int] | None = None


def _cases() -> list[Case]:
    cs = []
    for k, s, g, norm, act in [
        (3, 2, 1, "bn", "gelu"),
        (1, 1, 1, "ln", None),
        (3, 1, 16, "bn", "relu"),
        (7, 2, 1, None, None),
        (3, 2, 16, "bn", None),
    ]:
        kw: dict[str, Any] = dict(groups=g, norm=norm, act=act)
        cs.append(
            Case(
                f"conv_norm_act-k{k}s{s}g{g}{norm}",
                lambda kw=kw, k=k, s=s, **dd: ConvNormAct(
                    16, 32 if kw["groups"] == 1 else 16, k, s, **kw, **dd
                ),
                lambda kw=kw, k=k, s=s: conv_norm_act_cost(
                    16, 32 if kw["groups"] == 1 else 16, k, s, **kw, hw=(15, 17)
                ),
                (16, 15, 17),
            )
        )
    cs.append(
        Case(
            "conv_ffn",
            lambda **dd: ConvFFN(24, 96, **dd),
            lambda: conv_ffn_cost(24, 96, hw=(9, 9)),
            (24, 9, 9),
        )
    )
    for dw in (True, False):
        cs.append(
            Case(
                f"mlp-dw{dw}",
                lambda dw=dw, **dd: Mlp(32, 80, dw_conv=dw, **dd),
                lambda dw=dw: mlp_cost(32, 80, dw_conv=dw, hw=(6, 5)),
                (30, 32),
                (6, 5),
            )
        )
    for sr, norm in ((1, "ln"), (2, "ln"), (3, "bn")):
        cs.append(
            Case(
                f"attention-sr{sr}-{norm}",
                lambda sr=sr, norm=norm, **dd: Attention(48, 6, sr_ratio=sr, norm=norm, **dd),
                lambda sr=sr, norm=norm: attention_cost(48, 6, sr_ratio=sr, norm=norm, hw=(6, 7)),
                (42, 48),
                (6, 7),
            )
        )
    cs.append(
        Case(
            "transformer_block",
            lambda **dd: TransformerBlock(64, 4, mlp_ratio=3, sr_ratio=2, **dd),
            lambda: transformer_block_cost(64, 4, mlp_ratio=3, sr_ratio=2, hw=(8, 8)),
            (64, 64),
            (8, 8),
        )
    )
    cs.append(
        Case(
            "class_attention",
            lambda **dd: ClassAttention(64, 4, **dd),
            lambda: class_attention_cost(64, 4, tokens=17),
            (17, 64),
        )
    )
    cs.append(
        Case(
            "class_block",
            lambda **dd: ClassBlock(64, 4, mlp_ratio=2, **dd),
            lambda: class_block_cost(64, 4, mlp_ratio=2, tokens=17),
            (17, 64),
        )
    )
    for cffn in ("full", "low_res"):
        cs.append(
            Case(
                f"hr_block-{cffn}",
                lambda cffn=cffn, **dd: HRBlock(24, mlp_ratio=3, cffn=cffn, **dd),
                lambda cffn=cffn: hr_block_cost(24, mlp_ratio=3, cffn=cffn, hw=(13, 14)),
                (24, 13, 14),
            )
        )
    for variant in ("irds_a", "irds_b"):
        cs.append(
            Case(
                variant,
                lambda variant=variant, **dd: IRDS(16, 40, hidden=64, variant=variant, **dd),
                lambda variant=variant: irds_cost(16, 40, hidden=64, variant=variant, hw=(15, 12)),
                (16, 15, 12),
            )
        )
    return cs


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_twin_matches_layer(case: Case) -> None:
    with torch.device("meta"):
        layer = case.make(device="meta")
        model = _Tokens(layer, case.wrap_hw) if case.wrap_hw else nn.Sequential(layer)
    traced = count_module(model, case.input_shape, with_acts=True)
    node = case.cost()
    got = traced.per_path["0" if not case.wrap_hw else "inner"]
    assert node.total.params == sum(p.numel() for p in layer.parameters())
    for field in ("params", "conv", "linear", "attn", "other", "norm", "acts"):
        assert getattr(node.total, field) == getattr(got, field), field
    # children are named after the layer's submodules
    names = dict(layer.named_modules())
    for path, _ in node.walk():
        assert path in names, path


def test_twin_is_a_different_number_when_the_layer_changes() -> None:
    """Guard against a parity test that cannot fail: different inputs give different costs."""
    a = conv_norm_act_cost(16, 32, 3, 1, hw=(8, 8)).total
    b = conv_norm_act_cost(16, 32, 3, 2, hw=(8, 8)).total
    assert a.conv == 4 * b.conv == 16 * 32 * 9 * 64
