"""HRViT's layers: every cost twin equals its layer (:func:`tests.harness.assert_twin`), and the cross-shaped attention equals a direct,
loop-based computation (padded stripes included)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hirisearch.layers.cross_shaped import cross_shaped_attention_cost
from hirisearch.layers.cross_shaped_nn import CrossShapedAttention
from hirisearch.layers.hrnet import bottleneck_cost, hr_fusion_cost, hrnet_classifier_cost
from hirisearch.layers.hrnet_nn import Bottleneck, HRFusion, HRNetClassifier
from hirisearch.layers.mix_ffn import des_cost, des_factors, mix_cfn_cost, mix_conv2d_cost
from hirisearch.layers.mix_ffn_nn import DiversityEnhancedShortcut, MixCFN, MixConv2d
from tests.harness import OnGrid, TwinCase


class _Branches(nn.Module):
    """Feeds a multi-branch layer maps cut from one input (slicing does no counted work)."""

    def __init__(self, inner: nn.Module, chs: tuple[int, ...], hws: tuple[tuple[int, int], ...]):
        super().__init__()
        self.inner, self.chs, self.hws = inner, chs, hws

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(
            [x[:, :c, : hw[0], : hw[1]] for c, hw in zip(self.chs, self.hws, strict=True)]
        )
        return out[-1] if isinstance(out, list) else out


HWS4 = ((16, 16), (8, 8), (4, 4), (2, 2))
#: Non-square branch grids (height below width), each half the previous on both axes.
HWS4_WIDE = ((16, 24), (8, 12), (4, 6), (2, 3))


def _cases() -> list[TwinCase]:
    cs = []
    for dim, hd, ws, hw in [(32, 8, 3, (5, 7)), (16, 16, 2, (4, 4)), (24, 4, 1, (3, 5))]:
        cs.append(
            TwinCase(
                f"cross_shaped-d{dim}h{hd}w{ws}-{hw[0]}x{hw[1]}",
                lambda dim=dim, hd=hd, ws=ws, **dd: CrossShapedAttention(dim, hd, ws, **dd),
                lambda dim=dim, hd=hd, ws=ws, hw=hw: cross_shaped_attention_cost(
                    dim, hd, ws, hw=hw
                ),
                (hw[0] * hw[1], dim),
                lambda m, hw=hw: OnGrid(m, hw),
            )
        )
    for dim in (10, 11):
        cs.append(
            TwinCase(
                f"mix_conv2d-{dim}",
                lambda dim=dim, **dd: MixConv2d(dim, **dd),
                lambda dim=dim: mix_conv2d_cost(dim, hw=(6, 5)),
                (dim, 6, 5),
            )
        )
    cs.append(
        TwinCase(
            "mix_cfn",
            lambda **dd: MixCFN(16, 40, **dd),
            lambda: mix_cfn_cost(16, 40, hw=(5, 6)),
            (30, 16),
            lambda m: OnGrid(m, (5, 6)),
        )
    )
    for c_in, c_out in ((48, 48), (32, 64), (240, 240)):
        cs.append(
            TwinCase(
                f"des-{c_in}-{c_out}",
                lambda c_in=c_in, c_out=c_out, **dd: DiversityEnhancedShortcut(c_in, c_out, **dd),
                lambda c_in=c_in, c_out=c_out: des_cost(c_in, c_out, tokens=12),
                (12, c_in),
            )
        )
    fusions = [((8,), (8,)), ((8,), (8, 16)), ((8, 16, 24), (8, 16, 24, 40))]
    for (chs_in, chs_out), hws in [*((f, HWS4) for f in fusions), (fusions[-1], HWS4_WIDE)]:
        n_in = len(chs_in)
        cs.append(
            TwinCase(
                f"hr_fusion-{len(chs_in)}to{len(chs_out)}-{hws[0][0]}x{hws[0][1]}",
                lambda i=chs_in, o=chs_out, hws=hws, **dd: HRFusion(i, o, hws[: len(o)], **dd),
                lambda i=chs_in, o=chs_out, hws=hws: hr_fusion_cost(
                    i, o, hws[: len(i)], hws[: len(o)]
                ),
                (max(chs_in), *hws[0]),
                lambda m, i=chs_in, n=n_in, hws=hws: _Branches(m, i, hws[:n]),
            )
        )
    for c_in in (8, 16):
        cs.append(
            TwinCase(
                f"bottleneck-{c_in}",
                lambda c_in=c_in, **dd: Bottleneck(c_in, 4, **dd),
                lambda c_in=c_in: bottleneck_cost(c_in, 4, hw=(7, 6)),
                (c_in, 7, 6),
            )
        )
    chs = (8, 16, 32, 64)
    for hws in (HWS4, HWS4_WIDE):
        cs.append(
            TwinCase(
                f"hrnet_classifier-{hws[0][0]}x{hws[0][1]}",
                lambda **dd: HRNetClassifier(
                    chs, (4, 8, 16, 32), final_chs=64, num_classes=10, **dd
                ),
                lambda hws=hws: hrnet_classifier_cost(
                    chs, (4, 8, 16, 32), final_chs=64, num_classes=10, hws=hws
                ),
                (64, *hws[0]),
                lambda m, hws=hws: _Branches(m, chs, hws),
            )
        )
    return cs


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_twin_matches_layer(case: TwinCase) -> None:
    case.check()


def test_des_factors_follow_the_log2_split() -> None:
    # e = floor(log2 C); p = 2^(e - e // 2): 48 -> e=5, p=8, k=6; 240 -> e=7, p=16, k=15.
    assert des_factors(48, 48) == (8, 6, 6)
    assert des_factors(240, 240) == (16, 15, 15)
    assert des_factors(32, 64) == (8, 4, 8)


def _direct_cross_shaped(m: CrossShapedAttention, x: torch.Tensor, hw: tuple[int, int]):
    """Token-by-token cross-shaped attention: every query of the horizontal half attends to the
    valid tokens of its ``ws``-row stripe, every query of the vertical half to those of its
    ``ws``-column stripe."""
    h, w = hw
    b, n, c = x.shape
    ws, num_heads, d = m.window_size, m.num_heads, m.head_width
    q, v = m.qv(x).chunk(2, dim=-1)
    local = m.dwconv(m.act(v.transpose(1, 2).reshape(b, c, h, w))).flatten(2).transpose(1, 2)
    half = c // 2
    out = torch.zeros(b, n, c, dtype=x.dtype)
    for t in range(n):
        r, col = divmod(t, w)
        for part, offset in (("h", 0), ("v", half)):
            if part == "h":
                keys = [u for u in range(n) if u // w // ws == r // ws]
            else:
                keys = [u for u in range(n) if u % w // ws == col // ws]
            for head in range(num_heads):
                sl = slice(offset + head * d, offset + (head + 1) * d)
                qi = q[:, t, sl]
                kv = v[:, keys, sl]
                weights = torch.softmax((kv @ qi[..., None])[..., 0] / math.sqrt(d), dim=-1)
                out[:, t, sl] = (weights[..., None] * kv).sum(1)
    return m.norm(m.proj(m.act(out + local)))


@pytest.mark.parametrize(("dim", "head_dim", "ws", "hw"), [(16, 4, 3, (5, 7)), (8, 8, 2, (3, 4))])
def test_cross_shaped_attention_equals_direct_computation(dim, head_dim, ws, hw) -> None:
    m = CrossShapedAttention(dim, head_dim, ws, dtype=torch.float64).eval()
    with torch.no_grad():  # give the zero-initialised output BN a visible, non-trivial affine map
        m.norm.weight.uniform_(0.5, 1.5)
        m.norm.bias.uniform_(-0.5, 0.5)
        m.norm.running_mean.uniform_(-0.1, 0.1)
    x = torch.randn(2, hw[0] * hw[1], dim, dtype=torch.float64)
    with torch.no_grad():
        got = m(x, hw)
        want = _direct_cross_shaped(m, x, hw)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
