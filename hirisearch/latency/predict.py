"""The latency predictor's model, without torch: operators read from the analytic cost tree, the
fitted calibration, and the prediction itself (microseconds per candidate, no model built).

Fitting the calibration (micro-benchmarks timed on a device) lives in
:mod:`hirisearch.latency.predictor`; this module is all a search or ``profile --predict`` needs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import CalibrationError
from hirisearch.io import atomic_write_json
from hirisearch.latency.interval import DEFAULT_COVERAGE, Intervals, Prediction, interval_model

#: Operator categories, each with its own model.
OP_CATEGORIES = ("conv", "dwconv", "linear", "attn", "attn_bias", "norm")
#: The glue around each category's operators (activations, residual adds, reshapes and copies of
#: their outputs, dispatch): ``glue_<category>``, one record per category in a tree.
GLUE = "glue_"
CATEGORIES = OP_CATEGORIES + tuple(GLUE + c for c in OP_CATEGORIES)
#: Features of every category's model, in order (coefficient units: ms per unit).
FEATURES = ("macs", "elements", "params", "ops")
#: Categories whose outputs the glue (activations, residual adds, reshapes) passes over.
GLUE_OF = ("conv", "dwconv", "linear", "attn", "attn_bias")
#: A conv doing at most this many MACs per output element is "dwconv" (depth-wise 3x3 = 9, 5x5 = 25).
DW_MAX_INTENSITY = 25
#: Environment variable naming the calibration folder (default ``~/.cache/hirisearch``).
CACHE_ENV = "HIRISEARCH_CACHE"
FORMAT_VERSION = 4


@dataclass(frozen=True)
class Op:
    """One operator's work per sample: ``macs`` and ``elements`` scale with batch; ``params`` do not."""

    category: str
    macs: int = 0
    elements: int = 0
    params: int = 0
    count: int = 1  # how many operators this record stands for (a glue record: its category's)

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
        alone = not (c.conv or c.linear)
        # Parameters of the attention node itself are a learned bias added to the scores (a
        # relative-position table): the scores are materialised and read again, a different
        # kernel from fused attention.
        cat = "attn_bias" if alone and c.params else "attn"
        ops.append(Op(cat, c.attn, c.acts if alone else 0, 0))
    if c.other > 0:
        ops.append(Op("linear", c.other, 0, 0))
    if c.norm > 0:
        ops.append(Op("norm", 0, c.norm, c.params if not (c.conv or c.linear) else 0))
    return ops


def tree_ops(tree: CostNode) -> list[Op]:
    """Every operator of the model, in execution order, then the uncounted glue per category
    (:func:`glue_ops`)."""
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
    return [*ops, *glue_ops(ops)]


def glue_ops(ops: Sequence[Op]) -> list[Op]:
    """One glue record per category present: an elementwise pass over the outputs of its
    operators (:data:`GLUE_OF`; none for norms) and one dispatch per operator."""
    elements: dict[str, int] = {}
    count: dict[str, int] = {}
    for op in ops:
        elements[op.category] = elements.get(op.category, 0) + (
            op.elements if op.category in GLUE_OF else 0
        )
        count[op.category] = count.get(op.category, 0) + op.count
    return [Op(GLUE + c, 0, elements[c], 0, count=count[c]) for c in OP_CATEGORIES if c in count]


def is_glue(category: str) -> bool:
    return category.startswith(GLUE)


def operator_count(ops: Sequence[Op]) -> int:
    """How many operators ``ops`` (from :func:`tree_ops`) stand for."""
    return sum(op.count for op in ops if not is_glue(op.category))


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
    #: Per category, the factor by which its operators inside whole networks are slower than its
    #: model says (cold caches, strided inputs, the forward's Python); fitted on whole networks
    #: timed without hooks (:func:`hirisearch.latency.fit.fit_network_scales`), 1 where not fitted.
    scales: dict[str, float] = field(default_factory=dict)
    #: Per model family, the factor by which its calibration networks are slower than the shared
    #: category models predict (kernels and layouts the cost tree does not name: fused or
    #: materialised attention, convs on token layouts); 1 for a family not calibrated on.
    family_scales: dict[str, float] = field(default_factory=dict)
    #: Per model family, per category, the factor by which the family's operators of that
    #: category run slower than the shared model (its own kernels and layouts: depth-wise
    #: convolutions on token layouts, attention's unfused path); 1 where not fitted.
    family_category_scales: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The calibration networks and their measured times (ms).
    networks: tuple[tuple[str, float], ...] = field(default=())
    #: What a quick calibration (``calibrate --quick``) adapted: the base calibration's file,
    #: device and date; None for a full calibration.
    adapted_from: str | None = None
    version: int = FORMAT_VERSION
    #: What the calibration knows about its own errors (:mod:`hirisearch.latency.interval`):
    #: None in a file made before they were measured (predictions then state the fallback).
    intervals: Intervals | None = None

    def op_ms(self, op: Op, batch: int = 1, family: str | None = None) -> float:
        """The operator's predicted time inside a network (of ``family``: its category factor)."""
        ms = self.isolated_ms(op, batch) * self.scales.get(op.category, 1.0)
        if family is not None:
            ms *= self.family_category_scales.get(family, {}).get(op.category, 1.0)
        return ms

    def isolated_ms(self, op: Op, batch: int = 1) -> float:
        """The operator's predicted time when timed alone (what the operator fit models)."""
        c = self.coeffs.get(op.category)
        if c is None and is_glue(op.category):
            return 0.0  # a calibration without networks has no glue model
        if c is None:
            raise CalibrationError(
                f"calibration for {self.device} has no {op.category!r} model; recalibrate"
            )
        return float(sum(a * f for a, f in zip(c, op.features(batch), strict=True)))

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["features"] = list(FEATURES)
        doc["intervals"] = None if self.intervals is None else self.intervals.to_json()
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
            scales={k: float(v) for k, v in doc.get("scales", {}).items()},
            family_scales={k: float(v) for k, v in doc.get("family_scales", {}).items()},
            family_category_scales={
                f: {c: float(v) for c, v in cats.items()}
                for f, cats in doc.get("family_category_scales", {}).items()
            },
            networks=tuple((str(n), float(ms)) for n, ms in doc.get("networks", ())),
            intervals=Intervals.from_json(doc.get("intervals")),
            adapted_from=doc.get("adapted_from"),
        )


# ----------------------------------------------------------------------------- prediction
def predict_ops_ms(
    ops: Sequence[Op], calibration: Calibration, batch: int = 1, family: str | None = None
) -> dict[str, float]:
    """Predicted milliseconds per category (``family``: its category factors, not its family
    factor)."""
    out: dict[str, float] = {}
    for op in ops:
        out[op.category] = out.get(op.category, 0.0) + calibration.op_ms(op, batch, family)
    return out


def predict_latency_ms(
    tree: CostNode, calibration: Calibration, batch: int = 1, *, family: str | None = None
) -> float:
    """Predicted latency (ms) of one forward pass of a batch of ``batch``, from the cost tree.

    Args:
        tree: the model's analytic cost tree (per sample), e.g. ``target.at(448).tree``.
        calibration: from :func:`load_calibration` or :func:`calibrate`.
        batch: batch size.
        family: the model's family name (``Family.name``): its factor
            (:attr:`Calibration.family_scales`) and its category factors
            (:attr:`Calibration.family_category_scales`) apply; ``None`` or a family not calibrated on:
            the shared category models alone.
    """
    ms = sum(predict_ops_ms(tree_ops(tree), calibration, batch, family).values())
    return ms * calibration.family_scales.get(family, 1.0) if family else ms


def interval_of(
    ms: float,
    calibration: Calibration,
    *,
    family: str | None = None,
    coverage: float = DEFAULT_COVERAGE,
) -> Prediction:
    """The prediction ``ms`` (of a model of ``family``) with its interval at ``coverage``, from
    the calibration's error models (:mod:`hirisearch.latency.interval`; their stated fallback
    for a calibration without them)."""
    model, basis = interval_model(calibration.intervals, family)
    return Prediction.of(ms, model, basis, coverage)


def predict_interval(
    tree: CostNode,
    calibration: Calibration,
    batch: int = 1,
    *,
    family: str | None = None,
    coverage: float = DEFAULT_COVERAGE,
) -> Prediction:
    """:func:`predict_latency_ms` with its interval at ``coverage`` (default 90%): the share
    of measurements the interval is meant to hold (:func:`interval_of`)."""
    ms = predict_latency_ms(tree, calibration, batch, family=family)
    return interval_of(ms, calibration, family=family, coverage=coverage)


# ------------------------------------------------------------------------------- storage
def device_kind(device: object) -> str:
    """``cpu`` or ``cuda`` from a device name (``cuda:1`` -> ``cuda``) or a ``torch.device``."""
    return str(getattr(device, "type", device)).split(":", 1)[0]


def calibration_path(device: object) -> Path:
    """``$HIRISEARCH_CACHE/calibration-<device>.json`` (default folder ``~/.cache/hirisearch``)."""
    kind = device_kind(device)
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hirisearch"
    return Path(root) / f"calibration-{kind}.json"


def save_calibration(calibration: Calibration, path: str | os.PathLike[str] | None = None) -> Path:
    """Write atomically to ``path`` (default: :func:`calibration_path` of its device)."""
    return atomic_write_json(path or calibration_path(calibration.device), calibration.to_json())


def load_calibration(device: object, path: str | os.PathLike[str] | None = None) -> Calibration:
    """The stored calibration of ``device`` (``cpu`` or ``cuda``), or of the file ``path``."""
    file = Path(path) if path is not None else calibration_path(device)
    if not file.exists():
        kind = device_kind(device)
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
