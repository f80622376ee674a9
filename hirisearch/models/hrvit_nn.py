"""The ``nn.Module`` half of :mod:`hirisearch.models.hrvit` (imported only when a model is built).

HRViT: a multi-branch, high-resolution Vision Transformer.
"""

from __future__ import annotations

import torch
from torch import nn

from hirisearch.layers.conv_nn import ConvNormAct
from hirisearch.layers.cross_shaped_nn import CrossShapedAttention
from hirisearch.layers.drop_path_nn import DropPath
from hirisearch.layers.hrnet_nn import HRFusion, HRNetClassifier
from hirisearch.layers.init import init_weights
from hirisearch.layers.mix_ffn_nn import DiversityEnhancedShortcut, MixCFN
from hirisearch.layers.norm_act_nn import make_norm
from hirisearch.models.hrvit import (
    LN_EPS,
    BranchPlan,
    GroupPlan,
    HRViTPlan,
    Hw,
)


class HRViTStem(nn.Module):
    """Two 3x3/s2 convs (``stem_chs // 2`` then ``stem_chs`` channels, bias) with BN + ReLU."""

    def __init__(self, in_chans: int, stem_chs: int, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        mid = stem_chs // 2
        self.conv1 = ConvNormAct(in_chans, mid, 3, 2, bias=True, norm="bn", act="relu", **dd)
        self.conv2 = ConvNormAct(mid, stem_chs, 3, 2, bias=True, norm="bn", act="relu", **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class HRViTBlock(nn.Module):
    """``x = x + attn(norm1(x)) + des(x); x = x + ffn(norm2(x))`` on an ``hw`` token grid."""

    def __init__(self, p: BranchPlan, drop_path: float = 0.0, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        dim = p.dim
        self.norm1 = make_norm("ln", dim, "tokens", eps=LN_EPS, **dd)
        self.attn = CrossShapedAttention(dim, p.head_dim, p.window_size, **dd)
        self.des = DiversityEnhancedShortcut(dim, dim, **dd)
        self.norm2 = make_norm("ln", dim, "tokens", eps=LN_EPS, **dd)
        self.ffn = MixCFN(dim, int(dim * p.mlp_ratio), **dd)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, hw: Hw) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw) + self.des(x))
        return x + self.drop_path(self.ffn(self.norm2(x), hw))


class HRViTBranch(nn.Module):
    """One branch of a stage: patch embedding (1x1 conv, depth-wise 3x3 conv, LN), blocks, LN."""

    def __init__(self, p: BranchPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.hw = p.hw
        self.embed = nn.Sequential(
            nn.Conv2d(p.in_chs, p.dim, 1, **dd),
            nn.Conv2d(p.dim, p.dim, 3, 1, 1, groups=p.dim, **dd),
        )
        self.embed_norm = make_norm("ln", p.dim, "tokens", eps=LN_EPS, **dd)
        self.blocks = nn.ModuleList(HRViTBlock(p, dp, **dd) for dp in p.drop_path)
        self.norm = make_norm("ln", p.dim, "tokens", eps=LN_EPS, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        b, c, h, w = x.shape
        t = self.embed_norm(x.flatten(2).transpose(1, 2))
        for blk in self.blocks:
            t = blk(t, self.hw)
        return self.norm(t).transpose(1, 2).reshape(b, c, h, w)


class HRViTGroup(nn.Module):
    """A stage group: the fusion block (which may add a branch), then every branch's stage."""

    def __init__(self, p: GroupPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.fusion = HRFusion(p.fusion_in, p.fusion_out, p.out_hws, act="gelu", **dd)
        self.branches = nn.ModuleList(HRViTBranch(b, **dd) for b in p.branches)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = self.fusion(xs)
        return [branch(x) for branch, x in zip(self.branches, xs, strict=True)]


class HRViT(nn.Module):
    """HRViT built from an :class:`HRViTPlan`; ``forward`` returns class logits (the dense
    form: the branch maps, finest first)."""

    def __init__(self, plan: HRViTPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.plan = plan
        self.stem = HRViTStem(plan.in_chans, plan.stem_chs, **dd)
        self.groups = nn.ModuleList(HRViTGroup(g, **dd) for g in plan.groups)
        h = plan.head
        if plan.outputs == "classification":  # the dense form returns the branch maps
            self.head = HRNetClassifier(
                h.in_chs,
                h.head_chs,
                expansion=h.expansion,
                final_chs=h.final_chs,
                num_classes=h.num_classes,
                **dd,
            )
        self.apply(init_weights)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The branch maps after the last stage group, highest resolution first."""
        xs = [self.stem(x)]
        for group in self.groups:
            xs = group(xs)
        return xs

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        feats = self.forward_features(x)
        return self.head(feats) if self.plan.outputs == "classification" else feats


def build_hrvit(plan: HRViTPlan, *, device=None, dtype=None) -> HRViT:
    """Build the model described by ``plan``."""
    return HRViT(plan, device=device, dtype=dtype)
