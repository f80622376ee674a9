"""PIIP's layers: cost twins against the traced counter, deformable attention against a direct
loop, windowed attention against global attention when one window covers the grid."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hirisearch.layers.deformable import deformable_cross_attention_cost
from hirisearch.layers.deformable_nn import DeformableCrossAttention, reference_points
from hirisearch.layers.interaction import injector_cost, interaction_unit_cost
from hirisearch.layers.interaction_nn import Injector, InteractionUnit
from hirisearch.layers.pyramid_merge import dense_merge_cost, merged_head_cost
from hirisearch.layers.pyramid_merge_nn import DenseMerge, MergedHead
from hirisearch.layers.simple_pyramid import simple_pyramid_cost, simple_pyramid_grids
from hirisearch.layers.simple_pyramid_nn import SimplePyramid
from hirisearch.layers.vit import vit_block_cost
from hirisearch.layers.vit_nn import ViTAttention, ViTBlock
from tests.harness import OnGrid, assert_twin

QHW, FHW = (3, 4), (5, 6)


class _Pair(nn.Module):
    """Feeds a (query, feat) layer from one input holding both token sets."""

    def __init__(self, inner: nn.Module, dims: tuple[int, int], unit: bool = False) -> None:
        super().__init__()
        self.inner, self.dims, self.unit = inner, dims, unit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nq = QHW[0] * QHW[1]
        q, f = x[:, :nq, : self.dims[0]], x[:, nq:, : self.dims[1]]
        out = self.inner(q, QHW, f, FHW)
        return out[0] if self.unit else out


class _Maps(nn.Module):
    def __init__(self, inner: nn.Module, dims, hws) -> None:
        super().__init__()
        self.inner, self.dims, self.hws = inner, dims, hws

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs, start = [], 0
        for d, hw in zip(self.dims, self.hws, strict=True):
            n = hw[0] * hw[1]
            xs.append(x[:, start : start + n, :d])
            start += n
        return self.inner(xs, list(self.hws))


def test_deformable_twin() -> None:
    with torch.device("meta"):
        layer = DeformableCrossAttention(
            64, num_heads=16, num_points=4, value_ratio=0.5, device="meta"
        )
    node = deformable_cross_attention_cost(64, query_hw=QHW, feat_hw=FHW)
    assert_twin(layer, node, (12 + 30, 64), wrap=lambda m: _Pair(m, (64, 64)))
    assert node.total.attn == 12 * 4 * 32  # points x value channels per query


@pytest.mark.parametrize("attn", ["deformable", "cross"])
def test_injector_and_unit_twins(attn) -> None:
    with torch.device("meta"):
        inj = Injector(64, attn=attn, device="meta")
        unit = InteractionUnit(64, 32, attn=attn, device="meta")
    node = injector_cost(64, attn=attn, query_hw=QHW, feat_hw=FHW)
    assert_twin(inj, node, (42, 64), wrap=lambda m: _Pair(m, (64, 64)))
    node = interaction_unit_cost(64, 32, attn=attn, a_hw=QHW, b_hw=FHW)
    assert_twin(unit, node, (42, 64), wrap=lambda m: _Pair(m, (64, 32), unit=True))


def test_cross_attention_counts_every_query_key_pair() -> None:
    node = injector_cost(64, attn="cross", query_hw=QHW, feat_hw=FHW).child("attn")
    assert node.total.attn == 2 * 12 * 30 * 64  # QK^T and AV: queries x keys x width, twice
    assert node.total.params == 4 * 64 * 64 + 64  # q, k, v without bias; proj with bias


@pytest.mark.parametrize("update", ["a", "b"])
def test_one_way_unit_twin_and_identity(update) -> None:
    with torch.device("meta"):
        unit = InteractionUnit(64, 32, update=update, device="meta")
    node = interaction_unit_cost(64, 32, update=update, a_hw=QHW, b_hw=FHW)
    assert_twin(unit, node, (42, 64), wrap=lambda m: _Pair(m, (64, 32), unit=True))
    both = interaction_unit_cost(64, 32, a_hw=QHW, b_hw=FHW)
    kept = "inject_a" if update == "a" else "inject_b"
    assert [p for p, _ in node.children] == [("b_to_a" if update == "a" else "a_to_b"), kept]
    assert node.total.params < both.total.params
    real = InteractionUnit(64, 32, update=update).eval()
    for p in real.parameters():
        if p.dim() == 1:
            p.data.fill_(0.5)  # gammas on: the updated branch changes, the other does not
    xa, xb = torch.randn(1, 12, 64), torch.randn(1, 30, 32)
    with torch.inference_mode():
        ya, yb = real(xa, QHW, xb, FHW)
    assert torch.equal(ya, xa) == (update == "b")
    assert torch.equal(yb, xb) == (update == "a")


@pytest.mark.parametrize(("ws", "tokens"), [(0, 31), (4, 30), (3, 30)])
def test_vit_block_twin(ws, tokens) -> None:
    hw = (5, 6)
    with torch.device("meta"):
        blk = ViTBlock(48, 4, window_size=ws, device="meta")
    node = vit_block_cost(48, 4, window_size=ws, hw=hw, tokens=tokens)
    assert_twin(blk, node, (tokens, 48), wrap=lambda m: OnGrid(m, hw))
    # InternViT-6B's form: RMSNorm, QK-norm over the full width, no qkv bias
    kw = dict(window_size=ws, qkv_bias=False, qk_norm=True, norm="rms")
    with torch.device("meta"):
        blk = ViTBlock(48, 4, **kw, device="meta")
    node6b = vit_block_cost(48, 4, **kw, hw=hw, tokens=tokens)
    assert_twin(blk, node6b, (tokens, 48), wrap=lambda m: OnGrid(m, hw))
    # norms: 2 LN (4d) become 2 RMS (2d), QK-norm adds 2d, no qkv bias removes 3d
    assert node6b.total.params == node.total.params - 3 * 48
    assert node6b.total.norm == 0  # RMSNorm: elementwise, not counted (as by torch's counter)


@pytest.mark.parametrize("hws", [((2, 2), (4, 4)), ((2, 3), (4, 6))], ids=["square", "2x3"])
@pytest.mark.parametrize("kind", ["merged", "dense"])
def test_merge_twins(kind, hws) -> None:
    dims = (64, 32)
    with torch.device("meta"):
        layer = (
            MergedHead(dims, 10, device="meta")
            if kind == "merged"
            else DenseMerge(dims, device="meta")
        )
    node = (
        merged_head_cost(dims, 10, hws=hws) if kind == "merged" else dense_merge_cost(dims, hws=hws)
    )
    tokens = sum(h * w for h, w in hws)
    assert_twin(layer, node, (tokens, 64), wrap=lambda m: _Maps(m, dims, hws))


def _bilinear(value: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Value (C, H, W) at pixel coordinates (x, y), zero outside (align_corners=False)."""
    c, h, w = value.shape
    x0, y0 = math.floor(x), math.floor(y)
    out = torch.zeros(c)
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                out += wy * wx * value[:, yy, xx]
    return out


def test_deformable_matches_direct_loop() -> None:
    torch.manual_seed(0)
    dim, num_heads, points = 32, 4, 3
    layer = DeformableCrossAttention(dim, num_heads=num_heads, num_points=points, value_ratio=0.5)
    with torch.no_grad():  # random offsets and weights, so sampling is off-grid and uneven
        layer.sampling_offsets.weight.normal_(0, 0.5)
        layer.attention_weights.weight.normal_(0, 0.5)
    b = 2
    q = torch.randn(b, QHW[0] * QHW[1], dim)
    f = torch.randn(b, FHW[0] * FHW[1], dim)
    with torch.no_grad():
        got = layer(q, QHW, f, FHW)
        hf, wf = FHW
        vd = layer.value_dim // num_heads
        value = layer.value_proj(f)  # (B, Nf, Cv)
        offsets = layer.sampling_offsets(q).view(b, -1, num_heads, points, 2)
        weights = layer.attention_weights(q).view(b, -1, num_heads, points).softmax(-1)
        ref = reference_points(QHW)
        out = torch.zeros(b, q.shape[1], layer.value_dim)
        for bi in range(b):
            for qi in range(q.shape[1]):
                for h in range(num_heads):
                    vmap = value[bi, :, h * vd : (h + 1) * vd].T.reshape(vd, hf, wf)
                    acc = torch.zeros(vd)
                    for p in range(points):
                        lx = ref[qi, 0] + offsets[bi, qi, h, p, 0] / wf
                        ly = ref[qi, 1] + offsets[bi, qi, h, p, 1] / hf
                        s = _bilinear(vmap, float(lx * wf - 0.5), float(ly * hf - 0.5))
                        acc += weights[bi, qi, h, p] * s
                    out[bi, qi, h * vd : (h + 1) * vd] = acc
        want = layer.output_proj(out)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_one_window_over_the_grid_is_global_attention() -> None:
    torch.manual_seed(0)
    glob = ViTAttention(32, 4)
    win = ViTAttention(32, 4, window_size=6)
    win.load_state_dict(glob.state_dict())
    x = torch.randn(2, 36, 32)
    with torch.no_grad():
        torch.testing.assert_close(win(x, (6, 6)), glob(x, (6, 6)), rtol=1e-5, atol=1e-5)
        # padding changes the result: padded zero keys take part in the softmax, as upstream
        padded = ViTAttention(32, 4, window_size=7)
        padded.load_state_dict(glob.state_dict())
        assert not torch.allclose(padded(x, (6, 6)), glob(x, (6, 6)), atol=1e-4)


@pytest.mark.parametrize("hw", [(6, 6), (5, 7)])
def test_simple_pyramid_twin_and_grids(hw) -> None:
    """PIIP's detection pyramid from the merged map: twin == traced, and the four maps' grids."""
    with torch.device("meta"):
        layer = SimplePyramid(64, device="meta")
    assert_twin(layer, simple_pyramid_cost(64, hw=hw), (64, *hw))
    outs = SimplePyramid(64)(torch.randn(1, 64, *hw))
    assert [tuple(o.shape[2:]) for o in outs] == list(simple_pyramid_grids(hw))
    assert all(o.shape[1] == 64 for o in outs)
