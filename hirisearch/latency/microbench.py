"""The operator micro-benchmarks of calibration: single operators at the sizes vision backbones use.

Each :class:`MicroBench` is a module, its input shape (batch 1) and its analytic cost tree; the
tables below span dense and depth-wise convolutions, linear layers, attention and norms from tiny
(dispatch-bound) to cache-exceeding sizes. Whole calibration networks come from the model families
(:mod:`hirisearch.latency.networks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.latency.predict import CalibrationError, Op, is_glue, tree_ops

__all__ = ["COPIES", "MicroBench", "operator_benchmarks", "single_op"]

#: Instances of each micro-benchmark timed in turn (cold weights, as inside a model).
COPIES = 4


@dataclass(frozen=True)
class MicroBench:
    """One operator (or a whole network) at one size: a module, its input shape (batch 1) and its
    analytic cost tree."""

    name: str
    make: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    tree: CostNode
    channels_last: bool = False
    #: Instances timed in turn (a whole network: one, as ``bench`` times it).
    copies: int = COPIES
    #: A whole network: fits the in-network factors on top of the operator fit.
    network: bool = False
    #: The model family of a whole network (its factor is fitted on its networks), else None.
    family: str | None = None


class _Sdpa(nn.Module):
    def __init__(self, heads: int, q: int, kv: int, dim: int) -> None:
        super().__init__()
        self.shape = (heads, q, kv, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, q, kv, d = self.shape
        b = x.shape[0]
        qs = x[:, : h * q * d].reshape(b, h, q, d)
        k = x[:, : h * kv * d].reshape(b, h, kv, d)
        return F.scaled_dot_product_attention(qs, k, k)


def _leaf(c: Cost) -> CostNode:
    return CostNode.leaf(c)


def operator_benchmarks() -> list[MicroBench]:
    """Single operators at the sizes vision backbones use at 224-448 px (stride 2 to 32)."""
    out: list[MicroBench] = []
    for cin, cout, k, s, hw in [
        (3, 32, 3, 2, 448),
        (32, 64, 3, 2, 224),
        (64, 64, 3, 1, 56),
        (32, 32, 1, 1, 112),
        (32, 128, 1, 1, 112),
        (128, 32, 1, 1, 112),
        (64, 256, 1, 1, 56),
        (256, 64, 1, 1, 56),
        (128, 512, 1, 1, 28),
        (512, 128, 1, 1, 28),
        (320, 1280, 1, 1, 14),
        (1280, 320, 1, 1, 14),
        (448, 448, 1, 1, 7),
        (384, 1536, 1, 1, 14),
        (1536, 768, 1, 1, 7),
    ]:
        o = P.conv_out(hw, k, s, k // 2)
        out.append(
            MicroBench(
                f"conv{k}x{k} {cin}->{cout} @{hw}/s{s}",
                partial(nn.Conv2d, cin, cout, k, s, k // 2, bias=False),
                (cin, hw, hw),
                _leaf(P.conv2d(cin, cout, k, (o, o))),
                channels_last=True,
            )
        )
    for c, hw, s in [
        (32, 224, 2),
        (32, 112, 1),
        (128, 112, 1),
        (64, 56, 1),
        (256, 56, 1),
        (256, 56, 2),
        (512, 28, 1),
        (1024, 28, 2),
        (1280, 14, 1),
        (1792, 7, 1),
    ]:
        o = P.conv_out(hw, 3, s, 1)
        out.append(
            MicroBench(
                f"dwconv3x3 {c} @{hw}/s{s}",
                partial(nn.Conv2d, c, c, 3, s, 1, groups=c, bias=False),
                (c, hw, hw),
                _leaf(P.conv2d(c, c, 3, (o, o), groups=c)),
                channels_last=True,
            )
        )
    for n, cin, cout in [
        (3136, 64, 256),
        (784, 128, 128),
        (784, 128, 256),
        (784, 128, 1024),
        (784, 1024, 128),
        (196, 320, 320),
        (196, 320, 640),
        (196, 320, 1280),
        (196, 1280, 320),
        (49, 448, 896),
        (49, 448, 1792),
        (1, 448, 1000),
        # weights larger than the caches: the per-parameter term is the weight streaming
        (196, 512, 2048),
        (196, 2048, 512),
        (49, 768, 3072),
        (49, 3072, 768),
        (1, 960, 3840),
    ]:
        out.append(
            MicroBench(
                f"linear {cin}->{cout} x{n}",
                partial(nn.Linear, cin, cout),
                (n, cin),
                _leaf(P.linear(cin, cout, n)),
            )
        )
    for h, q, kv, d in [
        (2, 3136, 3136, 32),
        (4, 784, 784, 32),
        (10, 196, 196, 32),
        (14, 49, 49, 32),
        (14, 1, 50, 32),
        (4, 784, 49, 32),
    ]:
        out.append(
            MicroBench(
                f"attention {h}h q{q} kv{kv} d{d}",
                partial(_Sdpa, h, q, kv, d),
                (h * max(q, kv) * d,),
                _leaf(P.attention(h, q, kv, d)),
            )
        )
    for c, hw in [(32, 112), (128, 112), (256, 56), (512, 28)]:
        out.append(
            MicroBench(
                f"batchnorm {c} @{hw}",
                partial(nn.BatchNorm2d, c),
                (c, hw, hw),
                _leaf(P.batch_norm(c, c * hw * hw)),
                channels_last=True,
            )
        )
    for n, c in [(3136, 64), (784, 128), (196, 320), (49, 448)]:
        out.append(
            MicroBench(
                f"layernorm {c} x{n}",
                partial(nn.LayerNorm, c, eps=1e-6),
                (n, c),
                _leaf(P.layer_norm(c, c * n)),
            )
        )
    return out


def single_op(mb: MicroBench) -> Op:
    """The one operator an operator benchmark times."""
    ops = [op for op in tree_ops(mb.tree) if not is_glue(op.category)]
    if len(ops) != 1:
        raise CalibrationError(f"micro-benchmark {mb.name!r} maps to {len(ops)} operators")
    return ops[0]
