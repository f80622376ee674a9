"""The ``nn.Module`` half of :mod:`hirisearch.layers.deformable` (imported only when a model is built).

One-level deformable cross-attention (Deformable-DETR style), pure PyTorch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.layers.deformable import (
    Hw,
)


def reference_points(hw: Hw, *, device=None, dtype=None) -> torch.Tensor:
    """Centres of the cells of an ``hw`` grid as (x, y) in [0, 1], row-major: shape (H*W, 2)."""
    h, w = hw
    ys = (torch.arange(h, device=device, dtype=dtype) + 0.5) / h
    xs = (torch.arange(w, device=device, dtype=dtype) + 0.5) / w
    ref_y, ref_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((ref_x.reshape(-1), ref_y.reshape(-1)), -1)


class DeformableCrossAttention(nn.Module):
    """Queries on a ``query_hw`` grid attend to a ``feat_hw`` value map at learned sampling points.

    Args:
        dim: query width (and output width).
        num_heads: attention heads; ``int(dim * value_ratio)`` must be divisible by it.
        num_points: sampling points per head.
        value_ratio: value width as a fraction of ``dim``.
        feat_dim: width of the value features (default ``dim``).
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int = 16,
        num_points: int = 4,
        value_ratio: float = 0.5,
        feat_dim: int | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        value_dim = int(dim * value_ratio)
        if value_dim % num_heads:
            raise ValueError(
                f"`int(dim * value_ratio) % num_heads == 0` must hold, but got dim={dim}, "
                f"value_ratio={value_ratio}, num_heads={num_heads}"
            )
        self.num_heads = num_heads
        self.num_points = num_points
        self.value_dim = value_dim
        self.sampling_offsets = nn.Linear(dim, num_heads * num_points * 2, **dd)
        self.attention_weights = nn.Linear(dim, num_heads * num_points, **dd)
        self.value_proj = nn.Linear(feat_dim or dim, value_dim, **dd)
        self.output_proj = nn.Linear(value_dim, dim, **dd)
        if device is None or torch.device(device).type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """Deformable-DETR's initialisation: head h samples along direction 2*pi*h/num_heads,
        point p at distance p + 1 cells; uniform attention weights."""
        nn.init.zeros_(self.sampling_offsets.weight)
        num_heads, points = self.num_heads, self.num_points
        thetas = torch.arange(num_heads, dtype=torch.float32) * (2.0 * math.pi / num_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True)[0]
        grid = grid[:, None, :] * torch.arange(1, points + 1, dtype=torch.float32)[None, :, None]
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self, query: torch.Tensor, query_hw: Hw, feat: torch.Tensor, feat_hw: Hw
    ) -> torch.Tensor:
        b, nq, _ = query.shape
        num_heads, points = self.num_heads, self.num_points
        hd = self.value_dim // num_heads
        hf, wf = feat_hw
        value = self.value_proj(feat).transpose(1, 2).reshape(b * num_heads, hd, hf, wf)
        offsets = self.sampling_offsets(query).view(b, nq, num_heads, points, 2)
        weights = self.attention_weights(query).view(b, nq, num_heads, points).softmax(-1)
        ref = reference_points(query_hw, device=query.device, dtype=query.dtype)
        # offsets are in value-map cells: divide by (W, H) to normalise
        loc = ref[None, :, None, None, :] + offsets * offsets.new_tensor([1.0 / wf, 1.0 / hf])
        grid = (2 * loc - 1).permute(0, 2, 1, 3, 4).reshape(b * num_heads, nq, points, 2)
        sampled = F.grid_sample(
            value, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )  # (B*num_heads, hd, Nq, points)
        w = weights.permute(0, 2, 1, 3).reshape(b * num_heads, nq, 1, points)
        out = torch.matmul(w, sampled.permute(0, 2, 3, 1))  # (B*num_heads, Nq, 1, hd): a bmm
        out = out.view(b, num_heads, nq, hd).transpose(1, 2).reshape(b, nq, self.value_dim)
        return self.output_proj(out)
