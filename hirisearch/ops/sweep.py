"""Resolution sweeps: parameters and MACs of models across input resolutions.

Spec targets use their analytic cost (no model is built, a point costs milliseconds); targets
without an analytic model are counted by the meta-device traced counter. A resolution a model
cannot take is skipped for that model with the reason, never fatal. The result is a
:class:`SweepResult`; its document is a ``sweep`` run folder's (:mod:`hirisearch.report.run.sweep`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from hirisearch.cost.convention import CONVENTION
from hirisearch.errors import HirisearchError
from hirisearch.models.resolution import Size, parse_size, size_key, size_value
from hirisearch.ops import Count, ImgSize, Positive
from hirisearch.targets import Target

if TYPE_CHECKING:
    from hirisearch.train.config import TrainConfig

__all__ = [
    "MAX_SIZES",
    "SweepPoint",
    "SweepResult",
    "SweepSeries",
    "SweepSkip",
    "parse_resolutions",
    "sweep_targets",
]


#: How a series was counted: in closed form from the spec, or traced.
Method = Literal["analytic", "traced"]


@dataclass(frozen=True)
class SweepPoint:
    """One model at one size: params and MACs for the batch (and the median latency, in ms, when
    the sweep measured it; ``None`` where it could not); with ``--train``, the MACs of a training
    step (forward + backward) and its analytic peak memory on one device (``None`` where the
    model has no training twin)."""

    img_size: ImgSize
    params: Count
    macs: Count
    latency_ms: float | None = None
    train_macs: int | None = None
    train_peak_bytes: int | None = None
    #: With ``--predict``: the calibrated prediction, its interval and the interval's coverage.
    predicted_ms: float | None = None
    predicted_interval_ms: tuple[float, float] | None = None
    predicted_coverage: float | None = None


@dataclass(frozen=True)
class SweepSkip:
    """A size the model cannot take, and why."""

    img_size: ImgSize
    reason: str


@dataclass(frozen=True)
class SweepSeries:
    """One model across the sizes."""

    spec: str
    name: str
    family: str
    method: Method
    points: tuple[SweepPoint, ...]
    skipped: tuple[SweepSkip, ...] = ()


@dataclass(frozen=True)
class SweepResult:
    """Params and MACs of every model at every size it takes."""

    kind: ClassVar[str] = "sweep"

    batch: Positive
    img_sizes: tuple[ImgSize, ...]
    convention: str
    series: tuple[SweepSeries, ...]
    #: Whether every point was timed (then every point carries ``latency_ms``, maybe ``None``).
    timed: bool = False
    #: The training step costed at every point (``--train``; None: not asked).
    train: TrainConfig | None = None
    #: Whether every point was predicted (``--predict``: ``predicted_*`` at every point).
    predicted: bool = False

    def to_json(self) -> dict[str, Any]:
        """What ``sweep --json`` prints: the run folder's document with its ``kind``."""
        return {"kind": self.kind, **self._document()}

    def _document(self) -> dict[str, Any]:
        series = []
        for s in self.series:
            doc = asdict(s)
            for p in doc["points"]:
                if not self.timed:
                    del p["latency_ms"]
                if self.train is None:  # every document without --train keeps its content
                    del p["train_macs"], p["train_peak_bytes"]
                if not self.predicted:
                    del p["predicted_ms"], p["predicted_interval_ms"], p["predicted_coverage"]
            series.append(doc)
        out = {
            "batch": self.batch,
            "img_sizes": list(self.img_sizes),
            "convention": self.convention,
            "series": series,
        }
        if self.train is not None:
            out["train"] = self.train.to_json()
        return out

    @classmethod
    def run_document(cls, results: Sequence[SweepResult]) -> dict[str, Any]:
        """A ``sweep`` run folder's fields (one sweep per folder)."""
        if len(results) != 1:
            raise ValueError(f"a sweep run folder holds one sweep, but got {len(results)}")
        return results[0]._document()

    @classmethod
    def run_name(cls, results: Sequence[SweepResult]) -> str:
        return "sweep-" + "+".join(s.name for r in results for s in r.series)


#: More points than this is almost certainly a typo in a range (``224:10240:32``).
MAX_SIZES = 512


def parse_resolutions(values: Sequence[str]) -> list[Size]:
    """``["224:1024:32"]`` -> 224, 256, ..., 1024 (the stop is included when the step reaches it);
    ``["224,448", "896", "800x1280"]`` -> 224, 448, 896, (800, 1280) (height x width). Sorted by
    area, duplicates removed; ranges are of square sizes.

    Raises:
        HirisearchError: a value that is not a size (``R``, ``HxW``) or ``start:stop[:step]``
            range.
    """
    sizes: set[Size] = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if "x" in part.lower():
                sizes.add(size_value(parse_size(part)))
                continue
            fields = part.split(":")
            try:
                nums = [int(f) for f in fields]
            except ValueError:
                raise HirisearchError(
                    f"--res: expected an integer or START:STOP[:STEP] range (or HxW, e.g. "
                    f"800x1280), but got {part!r}"
                ) from None
            if len(nums) == 1:
                start = stop = nums[0]
                step = 1
            elif len(nums) in (2, 3):
                start, stop = nums[0], nums[1]
                step = nums[2] if len(nums) == 3 else 32
            else:
                raise HirisearchError(f"--res: expected START:STOP[:STEP], but got {part!r}")
            if start <= 0 or step <= 0 or stop < start:
                raise HirisearchError(
                    f"--res: `0 < start <= stop` and `step > 0` must hold, but got {part!r}"
                )
            sizes.update(range(start, stop + 1, step))
            if len(sizes) > MAX_SIZES:
                raise HirisearchError(f"--res: more than {MAX_SIZES} resolutions in {part!r}")
    if not sizes:
        raise HirisearchError("--res: no resolutions given")
    return sorted(sizes, key=size_key)


def _point(target: Target, size: Size, batch: int) -> tuple[int, int, Method]:
    """(params, MACs for the batch, method) of ``target`` at ``size``: analytic where there is a
    cost tree, else traced."""
    sized = target.at(size)
    if sized.tree is not None:
        total = sized.tree.total
        return total.params, total.macs * batch, "analytic"
    from hirisearch.cost.counters import count_traced  # torch: only for models without a spec

    tc = count_traced(
        partial(sized.instance, batch=batch), sized.input_spec, batch=batch, source=target.ref
    )
    return tc.total.params, tc.total.macs, "traced"


def _train_point(target: Target, size: Size, config: TrainConfig) -> tuple[int | None, int | None]:
    """Training MACs and analytic peak bytes of ``target`` at ``size`` (None, None: no twin)."""
    from hirisearch.errors import TrainError
    from hirisearch.ops.train import train_model_of

    try:
        cost = train_model_of(target.at(size)).cost(config)
    except TrainError:
        return None, None
    return cost.macs.total, cost.memory.peak


def _own_method(target: Target) -> Method:
    """How a series none of whose sizes was taken would have been counted (its own size's)."""
    try:
        return "analytic" if target.at().tree is not None else "traced"
    except HirisearchError:
        return "traced"


def sweep_targets(
    targets: Sequence[Target],
    img_sizes: Sequence[Size],
    *,
    batch: int = 1,
    latency_ms: Callable[[Target, Size, int], float | None] | None = None,
    train: TrainConfig | None = None,
    predict: Callable[[Target, Size, int], Any] | None = None,
) -> SweepResult:
    """Params and MACs of every target at every size it takes.

    Args:
        latency_ms: measures ``(target, img_size, batch)`` in ms (``None``: not measurable, e.g.
            out of memory); when given, every point carries ``latency_ms``
            (:func:`hirisearch.ops.bench.latency_measurer` gives one).
        train: also cost this training step at every point (its batch: ``train.batch``).
        predict: ``(target, img_size, batch) -> Prediction`` at every point
            (:func:`hirisearch.ops.bench.latency_predictor` gives one; None: a model without
            an analytic cost model).
    """
    series = []
    for t in targets:
        points, skipped = [], []
        method: Method | None = None
        for size in img_sizes:
            try:
                params, macs, method = _point(t, size, batch)
            except HirisearchError as e:
                skipped.append(SweepSkip(size_value(size), e.one_line()))
                continue
            except (RuntimeError, ValueError) as e:  # a traced model that rejects the size
                msg = " ".join(str(e).split())[:200] or type(e).__name__
                skipped.append(SweepSkip(size_value(size), f"{type(e).__name__}: {msg}"))
                continue
            ms = latency_ms(t, size, batch) if latency_ms is not None else None
            tm, tp = _train_point(t, size, train) if train is not None else (None, None)
            pred = predict(t, size, batch) if predict is not None else None
            span = None if pred is None else (pred.low_ms, pred.high_ms)
            points.append(
                SweepPoint(size_value(size), params, macs, ms, tm, tp, pred and pred.ms, span,
                           pred and pred.coverage)
            )  # fmt: skip
        series.append(
            SweepSeries(
                spec=t.ref,
                name=t.name,
                family=t.family,
                method=method or _own_method(t),
                points=tuple(points),
                skipped=tuple(skipped),
            )
        )
    return SweepResult(
        batch=batch,
        img_sizes=tuple(size_value(s) for s in img_sizes),
        convention=CONVENTION,
        series=tuple(series),
        timed=latency_ms is not None,
        train=train,
        predicted=predict is not None,
    )
