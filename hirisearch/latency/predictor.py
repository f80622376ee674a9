"""A calibrated latency predictor: latency from the analytic cost tree, without running the model.

Calibration (``hirisearch calibrate``) times operator micro-benchmarks on one device -- dense
convolutions, low-intensity (depth-wise) convolutions, linear layers, attention, norms and
elementwise ops at several sizes -- and fits, per operator category, a roofline-style additive model

    time = per_mac * MACs + per_element * elements moved + per_param * weights + per_op

by non-negative least squares on relative error. Prediction walks the cost tree's operators (leaves,
plus the attention matmuls a node does itself), classifies each one and sums the category models.
Elementwise work the convention does not count (activations, residual adds, up-sampling, layout
copies) is charged as one elementwise pass over every conv and linear output, at the calibrated
elementwise rate.

The operator category is derived from the tree alone: a conv whose MACs per output element
(``(in_chs / groups) x k x k``) is at most :data:`DW_MAX_INTENSITY` is a low-intensity conv
(depth-wise 3x3 and 5x5), any other conv is dense.

Public API: :func:`calibrate`, :func:`fit`, :func:`predict_latency_ms`, :func:`load_calibration`,
:func:`save_calibration`, :func:`calibration_path`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hirisearch.cost import primitives as P
from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import HirisearchError
from hirisearch.io import atomic_write_json

__all__ = [
    "CATEGORIES",
    "Op",
    "Calibration",
    "CalibrationError",
    "tree_ops",
    "fit",
    "calibrate",
    "predict_latency_ms",
    "calibration_path",
    "load_calibration",
    "save_calibration",
]

CATEGORIES = ("conv", "dwconv", "linear", "attn", "norm", "glue")
#: Features of every category's model, in order (coefficient units: ms per unit).
FEATURES = ("macs", "elements", "params", "ops")
#: A conv doing at most this many MACs per output element is "dwconv" (depth-wise 3x3 = 9, 5x5 = 25).
DW_MAX_INTENSITY = 25
#: Instances of each micro-benchmark timed in turn (cold weights, as inside a model).
COPIES = 4
#: Environment variable naming the calibration folder (default ``~/.cache/hirisearch``).
CACHE_ENV = "HIRISEARCH_CACHE"
FORMAT_VERSION = 1


class CalibrationError(HirisearchError):
    """No calibration for a device, or an unreadable calibration file."""

    exit_code = 2


@dataclass(frozen=True)
class Op:
    """One operator's work per sample: ``macs`` and ``elements`` scale with batch; ``params`` do not."""

    category: str
    macs: int = 0
    elements: int = 0
    params: int = 0
    count: int = 1  # how many operators this record stands for (the glue record: all of them)

    def features(self, batch: int = 1) -> tuple[float, float, float, float]:
        return (self.macs * batch, self.elements * batch, float(self.params), float(self.count))


# ---------------------------------------------------------------------- tree -> operators
def _minus(a: Cost, b: Cost) -> Cost:
    return Cost(
        a.params - b.params,
        a.conv - b.conv,
        a.linear - b.linear,
        a.attn - b.attn,
        a.other - b.other,
        a.norm - b.norm,
        a.acts - b.acts,
    )


def cost_ops(c: Cost) -> list[Op]:
    """The operators of one node's own cost (usually one)."""
    ops = []
    if c.conv > 0:
        intensity = c.conv / c.acts if c.acts else 0
        cat = "dwconv" if intensity <= DW_MAX_INTENSITY else "conv"
        ops.append(Op(cat, c.conv, c.acts, c.params))
    if c.linear > 0:
        ops.append(Op("linear", c.linear, c.acts, c.params))
    if c.attn > 0:
        ops.append(Op("attn", c.attn, c.acts if not (c.conv or c.linear) else 0, 0))
    if c.other > 0:
        ops.append(Op("linear", c.other, 0, 0))
    if c.norm > 0:
        ops.append(Op("norm", 0, c.norm, c.params if not (c.conv or c.linear) else 0))
    return ops


def tree_ops(tree: CostNode) -> list[Op]:
    """Every operator of the model, in execution order, plus the uncounted elementwise glue."""
    ops: list[Op] = []
    cache: dict[int, list[Op]] = {}

    def visit(node: CostNode) -> list[Op]:
        key = id(node)  # identical blocks share one node; walk it once
        if key in cache:
            return cache[key]
        out: list[Op] = []
        own = node.total
        for _, child in node.children:
            out.extend(visit(child))
            own = _minus(own, child.total)
        out.extend(cost_ops(own))
        cache[key] = out
        return out

    ops = visit(tree)
    glue = sum(op.elements for op in ops if op.category in ("conv", "dwconv", "linear", "attn"))
    return [*ops, Op("glue", 0, glue, 0, count=len(ops))]


# --------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class Sample:
    """One micro-benchmark: its operator and the measured median time (ms)."""

    name: str
    op: Op
    batch: int
    ms: float
    #: The time the fit's error is relative to (a glue sample: its whole block); default ``ms``.
    scale_ms: float | None = None


@dataclass(frozen=True)
class Calibration:
    """Per-category coefficients (ms per MAC, per element, per parameter, per operator)."""

    device: str
    device_name: str
    torch_version: str
    threads: int
    created: str
    coeffs: dict[str, tuple[float, float, float, float]]
    samples: tuple[Sample, ...] = field(default=())
    version: int = FORMAT_VERSION

    def op_ms(self, op: Op, batch: int = 1) -> float:
        c = self.coeffs.get(op.category)
        if c is None and op.category == "glue":
            return 0.0  # a calibration without block benchmarks has no glue model
        if c is None:
            raise CalibrationError(
                f"calibration for {self.device} has no {op.category!r} model; recalibrate"
            )
        return float(sum(a * f for a, f in zip(c, op.features(batch), strict=True)))

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["features"] = list(FEATURES)
        return doc

    @staticmethod
    def from_json(doc: dict[str, Any]) -> Calibration:
        if doc.get("version") != FORMAT_VERSION:
            raise CalibrationError(
                f"calibration format version {doc.get('version')!r} is not {FORMAT_VERSION}; "
                "run `hirisearch calibrate` again"
            )
        samples = tuple(
            Sample(s["name"], Op(**s["op"]), int(s["batch"]), float(s["ms"]), s.get("scale_ms"))
            for s in doc.get("samples", ())
        )
        return Calibration(
            device=doc["device"],
            device_name=doc["device_name"],
            torch_version=doc["torch_version"],
            threads=int(doc["threads"]),
            created=doc["created"],
            coeffs={k: tuple(float(x) for x in v) for k, v in doc["coeffs"].items()},  # type: ignore[misc]
            samples=samples,
        )


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


def fit(samples: Iterable[Sample]) -> dict[str, tuple[float, float, float, float]]:
    """Fit each category's coefficients by non-negative least squares on relative error.

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
        x = nnls(a / scale, y)
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

    @property
    def is_block(self) -> bool:
        return bool(self.tree.children)


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
                lambda cin=cin, cout=cout, k=k, s=s: nn.Conv2d(cin, cout, k, s, k // 2, bias=False),
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
                lambda c=c, s=s: nn.Conv2d(c, c, 3, s, 1, groups=c, bias=False),
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
                lambda cin=cin, cout=cout: nn.Linear(cin, cout),
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
                lambda h=h, q=q, kv=kv, d=d: _Sdpa(h, q, kv, d),
                (h * max(q, kv) * d,),
                _leaf(P.attention(h, q, kv, d)),
            )
        )
    for c, hw in [(32, 112), (128, 112), (256, 56), (512, 28)]:
        out.append(
            MicroBench(
                f"batchnorm {c} @{hw}",
                lambda c=c: nn.BatchNorm2d(c),
                (c, hw, hw),
                _leaf(P.batch_norm(c, c * hw * hw)),
                channels_last=True,
            )
        )
    for n, c in [(3136, 64), (784, 128), (196, 320), (49, 448)]:
        out.append(
            MicroBench(
                f"layernorm {c} x{n}",
                lambda c=c: nn.LayerNorm(c, eps=1e-6),
                (n, c),
                _leaf(P.layer_norm(c, c * n)),
            )
        )
    return out


def block_benchmarks() -> list[MicroBench]:
    """Whole blocks, to fit the glue between operators (activations, residual adds, up-sampling,
    layout copies and per-operator dispatch): each block's time minus its operators' predicted
    times is what the glue costs."""
    from hirisearch.layers.mlp import ConvFFN, conv_ffn_cost
    from hirisearch.layers.transformer import TransformerBlock, transformer_block_cost
    from hirisearch.models.hiri_vit import (
        IRDS,
        DownsamplePlan,
        HRBlock,
        HRStem,
        StemPlan,
        hr_block_cost,
        hr_stem_cost,
        irds_cost,
    )

    out: list[MicroBench] = []
    for chs, size in [(16, 160), (32, 224)]:
        stem = StemPlan("hr", 3, chs, chs, 2, "bn", "ln", "gelu", (size, size))
        out.append(
            MicroBench(
                f"hr-stem {chs} @{size}",
                lambda stem=stem: HRStem(stem),
                (3, size, size),
                hr_stem_cost(stem),
                channels_last=True,
            )
        )
    for cin, cout, hw in [(32, 64, 56), (64, 128, 28), (128, 320, 14), (64, 64, 6)]:
        down = DownsamplePlan(cin, cout, 4 * cin, "irds_b", "bn", "gelu", (hw, hw))
        out.append(
            MicroBench(
                f"irds {cin}->{cout} @{hw}",
                lambda down=down: IRDS(down),
                (cin, hw, hw),
                irds_cost(down),
                channels_last=True,
            )
        )
    # Tiny maps pin down the per-operator cost (dispatch), large ones the per-element cost.
    for dim, hw in [(16, 64), (24, 56), (32, 112), (64, 56), (128, 28), (32, 8)]:
        out.append(
            MicroBench(
                f"hr-block {dim} @{hw}",
                lambda dim=dim: HRBlock(dim),
                (dim, hw, hw),
                hr_block_cost(dim, in_hw=(hw, hw)),
                channels_last=True,
            )
        )
    for dim, hidden, hw in [(64, 256, 56), (128, 512, 28)]:
        out.append(
            MicroBench(
                f"conv-ffn {dim}->{hidden} @{hw}",
                lambda dim=dim, hidden=hidden: ConvFFN(dim, hidden),
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
    ]:
        out.append(
            MicroBench(
                f"transformer {dim}/{heads}h r{ratio} sr{sr} @{hw}",
                lambda dim=dim, heads=heads, ratio=ratio, sr=sr, hw=hw: _OnGrid(
                    TransformerBlock(dim, heads, mlp_ratio=ratio, sr_ratio=sr), (hw, hw)
                ),
                (hw * hw, dim),
                transformer_block_cost(dim, heads, mlp_ratio=ratio, sr_ratio=sr, hw=(hw, hw)),
            )
        )
    return out


def default_micro_benchmarks() -> list[MicroBench]:
    return operator_benchmarks() + block_benchmarks()


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
    for _ in range(COPIES):
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


def glue_samples(
    blocks: Iterable[tuple[MicroBench, float]],
    coeffs: dict[str, tuple[float, float, float, float]],
    batch: int = 1,
) -> list[Sample]:
    """Glue samples from measured blocks: measured time minus the operators' predicted time."""
    out = []
    for mb, ms in blocks:
        ops = tree_ops(mb.tree)
        glue = ops[-1]
        base = 0.0
        for op in ops[:-1]:
            c = coeffs.get(op.category)
            if c is None:
                raise CalibrationError(
                    f"block benchmark {mb.name!r} has a {op.category!r} operator but no "
                    "operator benchmark calibrated that category"
                )
            base += sum(a * f for a, f in zip(c, op.features(batch), strict=True))
        # Relative to the whole block: the fit makes block totals right, and a block whose
        # operators already account for all of its time (residual 0) pulls the glue down.
        out.append(Sample(mb.name, glue, batch, max(ms - base, 0.0), scale_ms=ms))
    return out


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

    Single-operator benchmarks fit the operator categories; block benchmarks then fit the glue
    category on what the blocks take beyond their operators.

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
    with cpu_threads(threads if device.type == "cpu" else None) as n, cudnn_benchmark(device):
        for i, mb in enumerate(benches):
            if progress is not None:
                progress(i, len(benches), mb.name)
            ms = _bench_op(mb, device, batch, min_time_s, clock, statistic)
            if mb.is_block:
                blocks.append((mb, ms))
            else:
                samples.append(Sample(mb.name, _single_op(mb), batch, ms))
    coeffs = fit(samples)
    glue = glue_samples(blocks, coeffs, batch)
    coeffs.update(fit(glue))
    return Calibration(
        device=device.type,
        device_name=device_name(device),
        torch_version=torch.__version__,
        threads=n,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        coeffs=coeffs,
        samples=tuple(samples + glue),
    )


# ----------------------------------------------------------------------------- prediction
def predict_ops_ms(ops: Sequence[Op], calibration: Calibration, batch: int = 1) -> dict[str, float]:
    """Predicted milliseconds per category."""
    out: dict[str, float] = {}
    for op in ops:
        out[op.category] = out.get(op.category, 0.0) + calibration.op_ms(op, batch)
    return out


def predict_latency_ms(tree: CostNode, calibration: Calibration, batch: int = 1) -> float:
    """Predicted latency (ms) of one forward pass of a batch of ``batch``, from the cost tree.

    Args:
        tree: the model's analytic cost tree (per sample), e.g. ``target.cost(plan)``.
        calibration: from :func:`load_calibration` or :func:`calibrate`.
        batch: batch size.
    """
    return sum(predict_ops_ms(tree_ops(tree), calibration, batch).values())


# ------------------------------------------------------------------------------- storage
def calibration_path(device: str | torch.device) -> Path:
    """``$HIRISEARCH_CACHE/calibration-<device>.json`` (default folder ``~/.cache/hirisearch``)."""
    kind = torch.device(device).type
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hirisearch"
    return Path(root) / f"calibration-{kind}.json"


def save_calibration(calibration: Calibration, path: str | os.PathLike[str] | None = None) -> Path:
    """Write atomically to ``path`` (default: :func:`calibration_path` of its device)."""
    return atomic_write_json(path or calibration_path(calibration.device), calibration.to_json())


def load_calibration(
    device: str | torch.device, path: str | os.PathLike[str] | None = None
) -> Calibration:
    """The stored calibration of ``device`` (``cpu`` or ``cuda``), or of the file ``path``."""
    file = Path(path) if path is not None else calibration_path(device)
    if not file.exists():
        kind = torch.device(device).type
        raise CalibrationError(
            f"no latency calibration for {kind} at {file}; run `hirisearch calibrate --device {kind}`"
        )
    try:
        doc = json.loads(file.read_text())
        return Calibration.from_json(doc)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CalibrationError(
            f"{file}: unreadable calibration ({type(e).__name__}: {e})"
        ) from None
