"""Mlp's depth-wise conv runs on the token layout (channels_last view): same function as the
transpose-to-NCHW formulation it replaces."""

from __future__ import annotations

import torch

from hirisearch.layers.mlp_nn import Mlp


def test_token_grid_conv_matches_the_nchw_formulation() -> None:
    torch.manual_seed(0)
    m = Mlp(8, 24).eval()
    hw = (5, 7)  # not square: a swapped height and width would not match
    x = torch.randn(2, hw[0] * hw[1], 8)
    with torch.no_grad():
        h = m.fc1(x)
        grid = h.transpose(1, 2).reshape(2, 24, *hw).contiguous()
        ref = m.fc2(m.act(m.dwconv(grid).flatten(2).transpose(1, 2)))
        got = m(x, hw)
    assert got.shape == (2, 35, 8)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
