"""A calibrated latency predictor: latency from the analytic cost tree, without running the model.

Calibration (``hirisearch calibrate``) times operator micro-benchmarks on one device -- dense
convolutions, low-intensity (depth-wise) convolutions, linear layers, attention, norms and
elementwise ops at several sizes -- and fits, per operator category, a roofline-style additive model

    time = per_mac * MACs + per_element * elements moved + per_param * weights + per_op

by robust (Huber-weighted) non-negative least squares on relative error. Two more stages, fitted on
what isolated operators do not show:

1. blocks (HR-stem, IRDS, HR-block, conv FFN, Transformer blocks at the sizes HIRI-ViT uses):
   ``block = sum_c scale_c * alone_c + glue``, the in-block slow-down ``scale_c >= 1`` of each
   category (cold caches, strided and larger inputs) and the glue -- activations, residual adds,
   up-sampling, layout copies the convention does not count -- as one elementwise pass over every
   conv, linear and attention output plus a cost per operator (:func:`fit_blocks`);
2. a few fixed whole networks (:data:`NETWORKS`, timed round-robin over several rounds):
   ``network = k * predicted + o * operators`` (stage reshapes, caches cold between blocks, the
   forward's Python; :func:`fit_network`).

Prediction walks the cost tree's operators (leaves, plus the attention matmuls a node does itself),
classifies each one and sums the category models with these factors.

The operator category is derived from the tree alone: a conv whose MACs per output element
(``(in_chs / groups) x k x k``) is at most :data:`DW_MAX_INTENSITY` is a low-intensity conv
(depth-wise 3x3 and 5x5), any other conv is dense.

Public API: :func:`calibrate`, :func:`fit`, :func:`fit_blocks`, :func:`fit_network`,
:func:`predict_latency_ms`, :func:`load_calibration`,
:func:`save_calibration`, :func:`calibration_path`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.latency.predict import (
    CACHE_ENV,
    CATEGORIES,
    Calibration,
    CalibrationError,
    Op,
    Sample,
    calibration_path,
    load_calibration,
    predict_latency_ms,
    save_calibration,
    tree_ops,
)

__all__ = [
    "CACHE_ENV",
    "CATEGORIES",
    "Op",
    "Calibration",
    "CalibrationError",
    "tree_ops",
    "fit",
    "fit_blocks",
    "fit_network",
    "calibrate",
    "predict_latency_ms",
    "calibration_path",
    "load_calibration",
    "save_calibration",
]

#: Instances of each micro-benchmark timed in turn (cold weights, as inside a model).
COPIES = 4
#: Rounds over the calibration networks (each network once per round).
NETWORK_ROUNDS = 3
#: Categories whose in-model slow-down (against the same operator timed alone) the block fit measures.
SCALED = ("conv", "dwconv", "linear", "attn", "norm")
#: Robust fit: Huber threshold (in robust standard deviations of the relative error) and rounds.
HUBER_K = 1.5
ROBUST_ROUNDS = 8


def nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares ``min |a x - y|, x >= 0`` by an active set: solve on the free
    columns, move the most negative coefficient to the bound, repeat; then re-admit any bound column
    whose gradient says it would help (Lawson-Hanson's optimality check)."""
    n = a.shape[1]
    free = list(range(n))
    for _ in range(4 * n + 4):
        x = np.zeros(n)
        if free:
            sol, *_ = np.linalg.lstsq(a[:, free], y, rcond=None)
            if np.any(sol < 0):
                free.pop(int(np.argmin(sol)))
                continue
            x[free] = sol
        grad = a.T @ (y - a @ x)
        bound = [
            j for j in range(n) if j not in free and grad[j] > 1e-12 * max(1.0, abs(grad).max())
        ]
        if not bound:
            return x
        free.append(max(bound, key=lambda j: grad[j]))
    return x


def robust_nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`nnls` with Huber weights by iteratively reweighted least squares: a row whose residual
    exceeds :data:`HUBER_K` robust standard deviations (1.4826 x the median absolute residual)
    counts with weight ``k / |r|``, so one disturbed timing cannot drag the fit."""
    w = np.ones(len(y))
    x = nnls(a, y)
    for _ in range(ROBUST_ROUNDS):
        r = y - a @ x
        sigma = 1.4826 * float(np.median(np.abs(r)))
        if sigma <= 1e-12 * max(1.0, float(np.abs(y).max())):
            return x
        w = np.minimum(1.0, HUBER_K * sigma / np.maximum(np.abs(r), 1e-300))
        sw = np.sqrt(w)
        x = nnls(a * sw[:, None], y * sw)
    return x


def fit(samples: Iterable[Sample]) -> dict[str, tuple[float, float, float, float]]:
    """Fit each category's coefficients by robust non-negative least squares on relative error.

    Feature columns are scaled to unit size before solving (MACs and per-op constants differ by
    ten orders of magnitude), then the coefficients are scaled back.
    """
    by_cat: dict[str, list[Sample]] = {}
    for s in samples:
        by_cat.setdefault(s.op.category, []).append(s)
    coeffs = {}
    for cat, group in by_cat.items():
        a = np.array([s.op.features(s.batch) for s in group], dtype=np.float64)
        y = np.array([s.ms for s in group], dtype=np.float64)
        w = np.array([s.scale_ms or s.ms for s in group], dtype=np.float64)
        if np.any(y < 0) or np.any(w <= 0):
            raise CalibrationError(f"non-positive timing in category {cat!r}")
        a, y = a / w[:, None], y / w  # minimise relative error
        scale = np.abs(a).max(axis=0)
        scale[scale == 0] = 1.0
        x = robust_nnls(a / scale, y)
        coeffs[cat] = tuple(float(v) for v in x / scale)
    return coeffs  # type: ignore[return-value]


# ---------------------------------------------------------------------- micro-benchmarks
@dataclass(frozen=True)
class MicroBench:
    """One operator (or, for the glue fit, one block) at one size: a module, its input shape
    (batch 1) and its analytic cost tree."""

    name: str
    make: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    tree: CostNode
    channels_last: bool = False
    #: Instances timed in turn (a whole network: one, as ``bench`` times it).
    copies: int = COPIES
    #: A whole network: fits the in-network factor on top of the operator and block fits.
    network: bool = False

    @property
    def is_block(self) -> bool:
        return bool(self.tree.children) and not self.network


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


class _OnGrid(nn.Module):
    """A token block called as ``block(x, hw)``."""

    def __init__(self, block: nn.Module, hw: tuple[int, int]) -> None:
        super().__init__()
        self.block, self.hw = block, hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, self.hw)


def _transformer_on_grid(
    dim: int, heads: int, mlp_ratio: float, sr_ratio: int, hw: tuple[int, int]
) -> _OnGrid:
    """A Transformer block on a fixed ``hw`` grid, built when the benchmark is timed."""
    from hirisearch.layers.transformer_nn import TransformerBlock

    return _OnGrid(TransformerBlock(dim, heads, mlp_ratio=mlp_ratio, sr_ratio=sr_ratio), hw)


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


def block_benchmarks() -> list[MicroBench]:
    """Whole blocks, to fit the glue between operators (activations, residual adds, up-sampling,
    layout copies and per-operator dispatch): each block's time minus its operators' predicted
    times is what the glue costs."""
    from hirisearch.layers.mlp import conv_ffn_cost
    from hirisearch.layers.mlp_nn import ConvFFN
    from hirisearch.layers.transformer import transformer_block_cost
    from hirisearch.models.hiri_vit import (
        DownsamplePlan,
        StemPlan,
        hr_block_cost,
        hr_stem_cost,
        irds_cost,
    )
    from hirisearch.models.hiri_vit_nn import IRDS, HRBlock, HRStem

    out: list[MicroBench] = []
    for chs, size in [(16, 160), (32, 224), (24, 288)]:
        stem = StemPlan("hr", 3, chs, chs, 2, "bn", "ln", "gelu", (size, size))
        out.append(
            MicroBench(
                f"hr-stem {chs} @{size}",
                partial(HRStem, stem),
                (3, size, size),
                hr_stem_cost(stem),
                channels_last=True,
            )
        )
    for cin, cout, hw in [
        (32, 64, 56),
        (48, 96, 72),
        (64, 128, 28),
        (128, 320, 14),
        (352, 896, 8),
        (64, 64, 6),
    ]:
        down = DownsamplePlan(cin, cout, 4 * cin, "irds_b", "bn", "gelu", (hw, hw))
        out.append(
            MicroBench(
                f"irds {cin}->{cout} @{hw}",
                partial(IRDS, down),
                (cin, hw, hw),
                irds_cost(down),
                channels_last=True,
            )
        )
    # Tiny maps pin down the per-operator cost (dispatch), large ones the per-element cost.
    for dim, hw in [(16, 64), (24, 56), (48, 72), (32, 112), (64, 56), (128, 28), (32, 8)]:
        out.append(
            MicroBench(
                f"hr-block {dim} @{hw}",
                partial(HRBlock, dim),
                (dim, hw, hw),
                hr_block_cost(dim, in_hw=(hw, hw)),
                channels_last=True,
            )
        )
    for dim, hidden, hw in [(64, 256, 56), (128, 512, 28)]:
        out.append(
            MicroBench(
                f"conv-ffn {dim}->{hidden} @{hw}",
                partial(ConvFFN, dim, hidden),
                (dim, hw, hw),
                conv_ffn_cost(dim, hidden, in_hw=(hw, hw)),
                channels_last=True,
            )
        )
    for dim, heads, ratio, sr, hw in [
        (64, 2, 8, 1, 56),
        (128, 4, 8, 1, 28),
        (128, 4, 4, 2, 28),
        (320, 10, 4, 1, 14),
        (448, 14, 4, 1, 7),
        (64, 2, 4, 1, 4),
        (48, 1, 4, 2, 64),
        (256, 8, 8, 1, 16),
        (480, 15, 8, 1, 4),
    ]:
        out.append(
            MicroBench(
                f"transformer {dim}/{heads}h r{ratio} sr{sr} @{hw}",
                partial(_transformer_on_grid, dim, heads, ratio, sr, (hw, hw)),
                (hw * hw, dim),
                transformer_block_cost(dim, heads, mlp_ratio=ratio, sr_ratio=sr, hw=(hw, hw)),
            )
        )
    return out


#: Whole calibration networks (HIRI-ViT, fixed: not drawn from any benchmark's random space):
#: ``(name, img_size, stem_chs, n_hr, depths, dims, mlp_ratios, sr_ratios, head)``.
NETWORKS = (
    (
        "cal-a",
        224,
        24,
        2,
        (1, 2, 2, 2, 1),
        (24, 48, 96, 192, 384),
        (4,) * 5,
        (1, 1, 2, 1, 1),
        "avg",
    ),
    (
        "cal-b",
        192,
        32,
        1,
        (2, 1, 3, 1, 2),
        (32, 64, 128, 224, 448),
        (2, 8, 4, 4, 4),
        (1, 2, 1, 1, 1),
        "class_attn",
    ),
    (
        "cal-c",
        160,
        16,
        3,
        (1, 1, 1, 2, 2),
        (16, 32, 64, 160, 320),
        (2, 2, 2, 8, 8),
        (1,) * 5,
        "avg",
    ),
    ("cal-d", 256, 32, 2, (2,) * 5, (32, 64, 128, 256, 512), (4,) * 5, (1, 1, 2, 1, 1), "avg"),
    (
        "cal-e",
        192,
        16,
        1,
        (1, 3, 1, 3, 1),
        (16, 64, 96, 160, 320),
        (2, 4, 8, 4, 4),
        (1,) * 5,
        "class_attn",
    ),
    (
        "cal-f",
        288,
        24,
        2,
        (1,) * 5,
        (24, 48, 96, 192, 384),
        (4, 4, 4, 8, 8),
        (1, 1, 2, 1, 1),
        "avg",
    ),
    # small widths at large maps: dispatch- and elementwise-bound
    ("cal-g", 224, 16, 2, (2, 2, 2, 2, 2), (16, 24, 64, 96, 192), (2, 2, 4, 4, 4), (1,) * 5, "avg"),
    ("cal-h", 256, 16, 3, (3, 1, 2, 1, 1), (16, 32, 48, 96, 160), (4, 2, 2, 4, 8), (1,) * 5, "avg"),
)


def network_benchmarks() -> list[MicroBench]:
    """A few whole HIRI-ViT networks: what a network takes beyond its blocks (stage reshapes, cold
    caches between blocks, the Python of the forward) is fitted on them as one factor."""
    from hirisearch.models.hiri_vit import FAMILY, HiriViTSpec

    out: list[MicroBench] = []
    for name, size, stem, n_hr, depths, dims, ratios, srs, head in NETWORKS:
        kinds = ("hr",) * n_hr + ("transformer",) * (len(depths) - n_hr)
        spec = HiriViTSpec.model_validate(
            {
                "family": "hiri_vit",
                "name": name,
                "img_size": size,
                "stem_chs": stem,
                "block_types": kinds,
                "depths": depths,
                "dims": dims,
                "num_heads": tuple(
                    0 if k == "hr" else d // 32 for k, d in zip(kinds, dims, strict=True)
                ),
                "mlp_ratios": ratios,
                "sr_ratios": srs,
                "head": head,
            }
        )
        plan = FAMILY.plan(spec, size)
        out.append(
            MicroBench(
                f"network {name} @{size}",
                partial(FAMILY.build, plan),
                tuple(plan.input_shape),
                FAMILY.cost(plan),
                copies=1,
                network=True,
            )
        )
    return out


def default_micro_benchmarks() -> list[MicroBench]:
    return operator_benchmarks() + block_benchmarks() + network_benchmarks()


def fit_network(
    networks: Sequence[tuple[MicroBench, float]], calibration: Calibration, batch: int = 1
) -> tuple[float, float]:
    """What whole networks take beyond their blocks: ``network = k * predicted + o * operators``
    (``k, o >= 0``; ``o`` the per-operator dispatch the blocks do not show: stage reshapes, the
    forward's Python), by non-negative least squares on relative error. ``(1, 0)`` without
    networks."""
    rows, w = [], []
    for mb, ms in networks:
        if ms <= 0:
            raise CalibrationError(f"non-positive timing of {mb.name!r}")
        ops = tree_ops(mb.tree)
        rows.append([predict_latency_ms(mb.tree, calibration, batch), float(ops[-1].count)])
        w.append(ms)
    if len(rows) < 2:
        return 1.0, 0.0
    a = np.array(rows) / np.array(w)[:, None]
    col = np.abs(a).max(axis=0)
    col[col == 0] = 1.0
    k, o = robust_nnls(a / col, np.ones(len(rows))) / col
    if k <= 0:
        return 1.0, 0.0
    return float(k), float(o)


def _bench_op(
    mb: MicroBench,
    device: torch.device,
    batch: int,
    min_time_s: float,
    clock: str,
    statistic: str = "median",
) -> float:
    from hirisearch.latency.measure import time_callable
    from hirisearch.latency.stats import summarize

    # Several instances, run in turn: in a model every operator meets weights (and often inputs)
    # that are not in the caches, unlike one module timed over and over.
    pairs = []
    for _ in range(mb.copies):
        model = mb.make().eval().to(device)
        x = torch.randn(batch, *mb.input_shape, device=device)
        if mb.channels_last:
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        pairs.append((model, x))

    def run() -> None:
        for model, x in pairs:
            model(x)

    with torch.inference_mode():
        samples = time_callable(
            run,
            device,
            warmup_s=min_time_s / 3,
            min_time_s=min_time_s,
            min_runs=3,
            clock=clock if device.type == "cpu" else "wall",
        )
    samples = [ms / len(pairs) for ms in samples]
    summary = summarize(samples)
    return summary.min_ms if statistic == "min" else summary.median_ms


def _single_op(mb: MicroBench) -> Op:
    ops = [op for op in tree_ops(mb.tree) if op.category != "glue"]
    if len(ops) != 1:
        raise CalibrationError(f"micro-benchmark {mb.name!r} maps to {len(ops)} operators")
    return ops[0]


def block_parts(
    mb: MicroBench, coeffs: dict[str, tuple[float, float, float, float]], batch: int = 1
) -> tuple[dict[str, float], Op]:
    """A block's operators' predicted times when timed alone, per category, and its glue record."""
    ops = tree_ops(mb.tree)
    base: dict[str, float] = {}
    for op in ops[:-1]:
        c = coeffs.get(op.category)
        if c is None:
            raise CalibrationError(
                f"block benchmark {mb.name!r} has a {op.category!r} operator but no "
                "operator benchmark calibrated that category"
            )
        ms = sum(a * f for a, f in zip(c, op.features(batch), strict=True))
        base[op.category] = base.get(op.category, 0.0) + ms
    return base, ops[-1]


def fit_blocks(
    blocks: Sequence[tuple[MicroBench, float]],
    coeffs: dict[str, tuple[float, float, float, float]],
    batch: int = 1,
) -> tuple[dict[str, float], tuple[float, float, float, float], list[Sample]]:
    """Fit what whole blocks take beyond their operators timed alone.

    Model: ``block = sum_c (1 + d_c) * alone_c + e * elements + o * operators`` with ``d_c, e, o
    >= 0``, where ``alone_c`` is the block's category-``c`` operators' predicted isolated time and
    the glue (activations, residual adds, up-sampling, layout copies, dispatch) is an elementwise
    pass over every conv, linear and attention output plus a cost per operator. Fitted by robust
    non-negative least squares on the error relative to the block's time.

    Returns:
        ``(scales, glue coefficients, glue samples)``: ``scales[c] = 1 + d_c`` for the categories
        the blocks contain; each glue sample is a block's time beyond its scaled operators.
    """
    parts = [block_parts(mb, coeffs, batch) for mb, _ in blocks]
    present = [c for c in SCALED if any(c in base for base, _ in parts)]
    rows, ys, ws = [], [], []
    for (_, ms), (base, glue) in zip(blocks, parts, strict=True):
        if ms <= 0:
            raise CalibrationError("non-positive block timing")
        g = glue.features(batch)
        rows.append([base.get(c, 0.0) for c in present] + [g[1], g[3]])
        ys.append(ms - sum(base.values()))
        ws.append(ms)
    if not rows:
        return {}, (0.0, 0.0, 0.0, 0.0), []
    w = np.array(ws)
    a = np.array(rows, dtype=np.float64) / w[:, None]
    y = np.array(ys, dtype=np.float64) / w
    col = np.abs(a).max(axis=0)
    col[col == 0] = 1.0
    x = robust_nnls(a / col, y) / col
    scales = {c: 1.0 + float(d) for c, d in zip(present, x, strict=False)}
    glue_coeffs = (0.0, float(x[-2]), 0.0, float(x[-1]))
    samples = []
    for (mb, ms), (base, glue) in zip(blocks, parts, strict=True):
        ops_ms = sum(scales[c] * t for c, t in base.items())
        samples.append(Sample(mb.name, glue, batch, max(ms - ops_ms, 0.0), scale_ms=ms))
    return scales, glue_coeffs, samples


def calibrate(
    device: torch.device,
    *,
    threads: int | None = None,
    min_time_s: float = 0.15,
    batch: int = 1,
    benches: Sequence[MicroBench] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    clock: str = "wall",
    statistic: str = "median",
) -> Calibration:
    """Time the micro-benchmarks on ``device`` and fit the per-category models.

    Single-operator benchmarks fit the operator categories; block benchmarks then fit, on what the
    blocks take beyond their operators timed alone, the in-model scale of each category and the
    glue (:func:`fit_blocks`).

    Args:
        threads: CPU thread count during the measurements (default: torch's current count).
        min_time_s: measuring time per micro-benchmark (the whole run takes about 1.5x this per
            benchmark, ~60 of them).
        progress: called with ``(index, total, name)`` before each benchmark (the CLI's progress).
        clock: ``wall``, or ``cpu`` for process CPU time (see
            :func:`hirisearch.latency.measure.time_callable`; on a shared machine, with one thread).
        statistic: ``median`` of each benchmark's runs, or ``min`` (the least disturbed run, the
            better estimate of the idle-machine time when other work shares the cores).
    """
    if statistic not in ("median", "min"):
        raise CalibrationError(f"statistic must be 'median' or 'min', but got {statistic!r}")
    from hirisearch.latency.device import cpu_threads, cudnn_benchmark, device_name

    benches = list(benches if benches is not None else default_micro_benchmarks())
    samples: list[Sample] = []
    blocks: list[tuple[MicroBench, float]] = []
    networks: list[tuple[MicroBench, float]] = []
    with cpu_threads(threads if device.type == "cpu" else None) as n, cudnn_benchmark(device):
        for i, mb in enumerate(benches):
            if mb.network:
                continue  # measured below, in rounds
            if progress is not None:
                progress(i, len(benches), mb.name)
            ms = _bench_op(mb, device, batch, min_time_s, clock, statistic)
            if mb.is_block:
                blocks.append((mb, ms))
            else:
                samples.append(Sample(mb.name, _single_op(mb), batch, ms))
        # Whole networks, round-robin over NETWORK_ROUNDS rounds (a burst of other work on a shared
        # machine then disturbs one round of a network, not all of them); each round as long as
        # an operator's COPIES instances, since a network runs once per run.
        nets = [mb for mb in benches if mb.network]
        times: list[list[float]] = [[] for _ in nets]
        for r in range(NETWORK_ROUNDS if nets else 0):
            for j, mb in enumerate(nets):
                if progress is not None:
                    progress(len(benches) - len(nets) + j, len(benches), f"{mb.name} ({r + 1})")
                t = min_time_s * COPIES / NETWORK_ROUNDS
                times[j].append(_bench_op(mb, device, batch, t, clock, statistic))
        for mb, ts in zip(nets, times, strict=True):
            networks.append((mb, min(ts) if statistic == "min" else float(np.median(ts))))
    coeffs = fit(samples)
    scales, glue_coeffs, glue = fit_blocks(blocks, coeffs, batch)
    if glue:
        coeffs["glue"] = glue_coeffs
    cal = Calibration(
        device=device.type,
        device_name=device_name(device),
        torch_version=torch.__version__,
        threads=n,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        coeffs=coeffs,
        samples=tuple(samples + glue),
        scales=scales,
    )
    k, o = fit_network(networks, cal, batch)
    return replace(
        cal,
        network_scale=k,
        network_per_op=o,
        networks=tuple((mb.name, ms) for mb, ms in networks),
    )
