"""BatchNorm folding computes the same function."""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.latency.fuse import fold_bn, fuse_model
from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.targets import resolve
from tests.conftest import SPECS


def _randomise_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def test_fold_bn_with_conv_bias_and_groups() -> None:
    conv = nn.Conv2d(8, 8, 3, 2, 1, groups=4, bias=True)
    bn = nn.BatchNorm2d(8).eval()
    _randomise_bn(bn)
    x = torch.randn(2, 8, 9, 9)
    fused = fold_bn(conv, bn)
    torch.testing.assert_close(fused(x), bn(conv(x)), rtol=1e-5, atol=1e-5)


def test_fused_hiri_vit_matches_unfused() -> None:
    target = resolve(str(SPECS / "s.yaml"))
    model = target.at(64).build().eval()
    _randomise_bn(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        ref = model(x)
    bns = sum(
        isinstance(m, ConvNormAct) and isinstance(m.norm, nn.BatchNorm2d) for m in model.modules()
    )
    assert fuse_model(model) == bns > 50
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    with torch.inference_mode():
        out = model(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
