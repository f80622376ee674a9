"""The ``nn.Module`` half of :mod:`hirisearch.models.piip` (imported only when a model is built).

PIIP: Parameter-Inverted Image Pyramid Networks.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import trunc_normal_

from hirisearch.layers.interaction_nn import InteractionUnit
from hirisearch.layers.pyramid_merge_nn import DenseMerge, MergedHead
from hirisearch.layers.simple_pyramid_nn import SimplePyramid
from hirisearch.layers.vit_nn import PatchEmbed, ViTBlock
from hirisearch.models.piip import (
    BranchPlan,
    Hw,
    PIIPPlan,
)


class PIIPBranch(nn.Module):
    """A plain ViT: patch embedding + position embedding (+ class token) and its blocks; with the
    classification output also its final norm and head."""

    def __init__(self, b: BranchPlan, plan: PIIPPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.patch_embed = PatchEmbed(plan.in_chans, b.dim, plan.patch_size, **dd)
        self.pos_embed = nn.Parameter(torch.zeros(1, b.tokens, b.dim, **dd))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, b.dim, **dd)) if plan.cls_token else None
        self.blocks = nn.ModuleList(
            ViTBlock(
                b.dim,
                b.num_heads,
                mlp_ratio=b.mlp_ratio,
                window_size=ws,
                qkv_bias=b.qkv_bias,
                layer_scale=plan.layer_scale,
                qk_norm=b.qk_norm,
                norm=b.norm,
                **dd,
            )
            for ws in b.windows
        )
        if plan.output == "classification":
            self.norm = nn.LayerNorm(b.dim, eps=1e-6, **dd)
            self.head = nn.Linear(b.dim, plan.num_classes, **dd)

    def run(self, x: torch.Tensor, cls: torch.Tensor | None, hw: Hw, start: int, stop: int):
        """Blocks ``start:stop`` on the patch tokens (and the class token, kept separate outside)."""
        if start == stop:
            return x, cls
        if cls is not None:
            x = torch.cat((cls, x), dim=1)
        for blk in self.blocks[start:stop]:
            x = blk(x, hw)
        return (x[:, 1:], x[:, :1]) if cls is not None else (x, None)

    def logits(self, x: torch.Tensor, cls: torch.Tensor | None) -> torch.Tensor:
        feat = self.norm(cls)[:, 0] if cls is not None else self.norm(x).mean(1)
        return self.head(feat)


class InteractionBlock(nn.Module):
    """One interaction placement: the plan's units (by default one per adjacent pair), run in the
    plan's order (by default from the last pair to the first)."""

    def __init__(self, plan: PIIPPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        bs = plan.branches
        self.pairs = [(u.a, u.b) for u in plan.units]
        self.order = plan.unit_order
        self.units = nn.ModuleList(
            InteractionUnit(
                bs[u.a].dim,
                bs[u.b].dim,
                **plan.unit_kwargs,
                update=u.update,
                device=device,
                dtype=dtype,
            )
            for u in plan.units
        )

    def forward(self, xs: list[torch.Tensor], hws: list[Hw]) -> list[torch.Tensor]:
        for j in self.order:
            a, b = self.pairs[j]
            xs[a], xs[b] = self.units[j](xs[a], hws[a], xs[b], hws[b])
        return xs


class PIIP(nn.Module):
    """PIIP built from a :class:`PIIPPlan`; input at the last branch's resolution."""

    def __init__(self, plan: PIIPPlan, *, device=None, dtype=None) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.plan = plan
        self.branches = nn.ModuleList(PIIPBranch(b, plan, **dd) for b in plan.branches)
        self.interactions = nn.ModuleList(
            InteractionBlock(plan, **dd) for _ in range(plan.interactions)
        )
        dims = [b.dim for b in plan.branches]
        self.merge: nn.Module | None = None
        if plan.output == "merged":
            self.merge = MergedHead(dims, plan.num_classes, **dd)
        elif plan.output == "dense":
            self.merge = DenseMerge(dims, **dd)
        if plan.outputs == "pyramid":  # the dense form: the detection backbone's pyramid
            self.pyramid = SimplePyramid(dims[0], **dd)
        if device is None or torch.device(device).type != "meta":
            self._init_weights()

    def _branches(self) -> list[PIIPBranch]:
        return [cast(PIIPBranch, b) for b in self.branches]

    def _init_weights(self) -> None:
        for branch in self._branches():
            trunc_normal_(branch.pos_embed, std=0.02)
            if branch.cls_token is not None:
                trunc_normal_(branch.cls_token, std=0.02)
        # Linear and conv weights keep PyTorch's default initialisation (upstream re-draws them
        # trunc-normal(0.02) for training: five more passes over ~0.5G weights for SBL, which
        # cost estimation does not need); deformable attention initialises itself as
        # Deformable-DETR does, and the zero gammas make every interaction the identity.

    def forward_branches(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list]:
        """Patch tokens and class tokens of every branch after all blocks and interactions."""
        plan = self.plan
        xs, clss, hws = [], [], []
        branches = self._branches()
        for b, branch in zip(plan.branches, branches, strict=True):
            xi = x
            if b.img_size != plan.img_size:
                xi = F.interpolate(x, size=b.img_size, mode="bilinear", align_corners=False)
            xs.append(branch.patch_embed(xi) + branch.pos_embed)
            cls = branch.cls_token
            clss.append(None if cls is None else cls.expand(x.shape[0], -1, -1))
            hws.append(b.hw)
        for k in range(plan.interactions + 1):
            for i, (b, branch) in enumerate(zip(plan.branches, branches, strict=True)):
                xs[i], clss[i] = branch.run(xs[i], clss[i], b.hw, *b.segments[k])
            if k < plan.interactions:
                xs = self.interactions[k](xs, hws)
        return xs, clss

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        xs, clss = self.forward_branches(x)
        if self.plan.output == "classification":
            pairs = zip(self._branches(), xs, clss, strict=True)
            return torch.stack([br.logits(t, c) for br, t, c in pairs]).mean(0)
        assert self.merge is not None  # planned: merged and dense outputs have a merge
        out = self.merge(xs, [b.hw for b in self.plan.branches])
        return self.pyramid(out) if self.plan.outputs == "pyramid" else out


def build_piip(plan: PIIPPlan, *, device=None, dtype=None) -> PIIP:
    """Build the model described by ``plan``."""
    return PIIP(plan, device=device, dtype=dtype)
