"""Profiling one model at one input size: analytic cost, traced count, cross-checks, per-stage
breakdown. Results are frozen dataclasses; presentation lives in :mod:`hirisearch.report`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from hirisearch.cost.convention import CONVENTION, CONVENTION_FVCORE
from hirisearch.cost.join import AGREEMENT_TOLERANCE, SectionResult, join_counts
from hirisearch.cost.types import CostNode
from hirisearch.errors import CountingError, HirisearchError
from hirisearch.limits import MAX_BATCH, TRACED_MODULE_LIMIT
from hirisearch.models import get_family
from hirisearch.ops import Count, Positive
from hirisearch.targets import Size, SizedTarget, Target

if TYPE_CHECKING:  # the counters import torch: only a traced count loads them
    from hirisearch.cost.counters import CrossCheck, TracedCount
    from hirisearch.ops.train import TrainProfile
    from hirisearch.train.config import TrainConfig

__all__ = [
    "AGREEMENT_TOLERANCE",
    "ProfileResult",
    "SectionResult",
    "profile_sized",
    "profile_target",
    "trace_skip_reason",
]

#: ``--convention fvcore``: GFLOPs as fvcore counts them (see :func:`profile_target`).
FVCORE = "fvcore"
#: Tensors larger than this many elements cannot be sized by torch (bytes must fit in 64 bits).
MAX_TENSOR_ELEMENTS = 1 << 60


def analytic_module_count(tree: CostNode) -> int:
    """Nodes of a cost tree (one per module of the built model, leaves included), counted once per
    distinct shared node, so a stage of 10,000 identical blocks costs one visit of the block."""
    memo: dict[int, int] = {}

    def count(node: CostNode) -> int:
        key = id(node)
        if key not in memo:
            memo[key] = 1 + sum(count(child) for _, child in node.children)
        return memo[key]

    return count(tree)


def trace_skip_reason(
    tree: CostNode | None,
    input_shape: tuple[int, ...],
    *,
    batch: int = 1,
    limit: int | None = TRACED_MODULE_LIMIT,
) -> str:
    """Why the traced count of a model with this analytic ``tree`` is skipped ("" to run it)."""
    if tree is None:
        return ""
    modules = analytic_module_count(tree)
    if limit is not None and modules > limit:
        return (
            f"traced count skipped: the model has {modules} modules, more than the limit of "
            f"{limit} for tracing (--trace-limit); analytic count only"
        )
    largest = max(tree.total.params, tree.total.acts * batch, batch * math.prod(input_shape))
    if largest > MAX_TENSOR_ELEMENTS:
        return (
            f"traced count skipped: tensors of up to {largest:.3g} elements do not fit torch's "
            "64-bit sizes; analytic count only"
        )
    return ""


@dataclass(frozen=True)
class ProfileResult:
    """The cost of one model at one input size and batch (counts are for the whole batch).

    A run folder of kind ``profile`` (or ``compare``) holds the :meth:`to_json` documents of
    several of them; its schema and CSV columns are read from these fields
    (:mod:`hirisearch.report.run.profile`).
    """

    kind: ClassVar[str] = "profile"

    spec: str
    family: str
    name: str
    img_size: Positive
    input_shape: tuple[int, ...]
    batch: Positive
    dtype: str
    convention: str
    params: Count
    macs: Count
    macs_analytic: int | None
    macs_traced: int | None
    agreement: float | None
    norm: Count
    acts: int | None
    categories: dict[str, int]
    categories_traced: dict[str, int] | None
    traced_mode: str | None
    traced_note: str
    traced_seconds: float | None
    uncounted_ops: tuple[str, ...]
    stages: tuple[SectionResult, ...]
    rows: tuple[SectionResult, ...] = ()
    counters: tuple[CrossCheck, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    #: MACs as the family's own paper counts them (convention name -> MACs), next to ours.
    paper_conventions: dict[str, int] = field(default_factory=dict)
    #: What a training step costs (``profile --train``); None: not asked.
    train: TrainProfile | None = None

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def attn_share(self) -> float:
        cats = self.categories_traced if self.categories_traced is not None else self.categories
        return cats.get("attn", 0) / self.macs if self.macs else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable document (tuples become lists): what ``profile --json`` prints."""
        doc = asdict(replace(self, train=None))
        del doc["train"]  # only with --train, so every other document keeps its content
        if self.train is not None:
            doc["train"] = self.train.to_json()
        doc["gmacs"] = round(self.gmacs, 6)
        doc["attn_share"] = self.attn_share
        return doc

    def to_dict(self) -> dict[str, Any]:
        """The same document as :meth:`to_json`."""
        return self.to_json()

    @classmethod
    def run_document(cls, results: Sequence[ProfileResult]) -> dict[str, Any]:
        """A ``profile`` run folder's fields: every result's document."""
        return {"results": [r.to_json() for r in results]}

    @classmethod
    def run_name(cls, results: Sequence[ProfileResult]) -> str:
        return "+".join(dict.fromkeys(r.name for r in results))


def profile_target(
    target: Target,
    img_size: Size | None = None,
    *,
    batch: int = 1,
    depth: int = 1,
    traced: bool = True,
    counters: Sequence[str] = (),
    convention: str = "ours",
    trace_limit: int | None = TRACED_MODULE_LIMIT,
    train: TrainConfig | None = None,
    memories: Sequence[str | int] | None = None,
    measure: bool = False,
) -> ProfileResult:
    """Profile ``target`` at ``img_size`` (default: its own): :func:`profile_sized` of
    ``target.at(img_size)``."""
    return profile_sized(
        target.at(img_size),
        batch=batch,
        depth=depth,
        traced=traced,
        counters=counters,
        convention=convention,
        trace_limit=trace_limit,
        train=train,
        memories=memories,
        measure=measure,
    )


def profile_sized(
    sized: SizedTarget,
    *,
    batch: int = 1,
    depth: int = 1,
    traced: bool = True,
    counters: Sequence[str] = (),
    convention: str = "ours",
    trace_limit: int | None = TRACED_MODULE_LIMIT,
    train: TrainConfig | None = None,
    memories: Sequence[str | int] | None = None,
    measure: bool = False,
) -> ProfileResult:
    """Profile a sized target for a batch of ``batch``.

    Args:
        depth: 1 shows the stages; larger values add module rows down to that depth.
        traced: run the meta-device traced count next to the analytic cost.
        counters: external cross-check counters (``fvcore``, ``thop``, ``ptflops``), run eagerly.
        convention: ``"ours"``; ``"fvcore"``: GFLOPs as fvcore counts them (our MACs plus norms,
            upsampling and adaptive pooling, from the traced count); or another project's
            counting path the family provides (e.g. ``"piip"``); then the analytic cost follows
            that path and no traced count is run (it measures our convention).
        trace_limit: skip the traced count (with a note) above this many modules; None: no limit.
        train: also cost a training step under this configuration (its batch is the training
            batch): :func:`hirisearch.ops.train.train_profile`, traced when ``traced``.
        memories: device names or sizes for the training "fits on" table (None: the default
            devices).
        measure: with ``train``, also measure a real training step's peak memory.
    """
    _check_options(batch, counters, convention, traced)
    fvcore = convention == FVCORE
    target = sized.target
    other = None if fvcore else target.convention(convention)
    tree = sized.tree
    if other is not None:
        tree, traced = other.cost(sized.plan), False
    warnings = list(getattr(sized.plan, "warnings", ()))
    tc, skipped = _count(sized, tree, batch, traced=traced, fvcore=fvcore, limit=trace_limit)
    if fvcore and tc is None:
        raise CountingError(f"--convention fvcore needs the traced count, but {skipped}")
    if skipped:
        warnings.append(skipped)
    joined = join_counts(
        None if fvcore else tree, tc, sized.sections, batch=batch, depth=depth, fvcore=fvcore
    )
    warnings += joined.warnings
    if tc is not None and tc.note:
        warnings.append(tc.note)
    results = []
    for name in counters:
        from hirisearch.cost.counters import cross_check

        results.append(cross_check(name, sized.build(device="cpu"), sized.input_shape))
    return ProfileResult(
        spec=target.ref,
        family=target.family,
        name=target.name,
        img_size=sized.resolution,
        input_shape=(batch, *sized.input_shape),
        batch=batch,
        dtype="fp32",
        convention=CONVENTION_FVCORE if fvcore else other.description if other else CONVENTION,
        params=joined.total.params,
        macs=joined.macs,
        macs_analytic=joined.macs_analytic,
        macs_traced=joined.macs_traced,
        agreement=joined.agreement,
        norm=joined.total.norm,
        acts=joined.total.acts if tree is not None and other is None and not fvcore else None,
        categories=joined.categories,
        categories_traced=joined.categories_traced,
        traced_mode=None if tc is None else tc.mode,
        traced_note=skipped if tc is None else tc.note,
        traced_seconds=None if tc is None else tc.seconds,
        uncounted_ops=() if tc is None else tc.uncounted_ops,
        stages=joined.stages,
        rows=joined.rows,
        counters=tuple(results),
        warnings=tuple(warnings),
        paper_conventions={} if other is not None or fvcore else _paper_conventions(sized, batch),
        train=None if train is None else _train(sized, train, joined, traced, memories, measure),
    )


def _train(
    sized: SizedTarget,
    config: TrainConfig,
    joined: Any,
    traced: bool,
    memories: Sequence[str | int] | None,
    measure: bool,
) -> TrainProfile:
    from hirisearch.ops.train import DEFAULT_MEMORIES, train_profile

    sections = [(s.name, s.path, s.depth) for s in joined.rows or joined.stages]
    return train_profile(
        sized, config, sections=sections, memories=DEFAULT_MEMORIES if memories is None
        else memories, traced=traced, measure=measure,
    )  # fmt: skip


def _paper_conventions(sized: SizedTarget, batch: int) -> dict[str, int]:
    """The total MACs of each counting path the family's paper published in (``shown``)."""
    if sized.plan is None:
        return {}
    shown = (c for c in get_family(sized.target.family).conventions if c.shown)
    return {c.name: c.cost(sized.plan).total.scaled(batch).macs for c in shown}


def _check_options(batch: int, counters: Sequence[str], convention: str, traced: bool) -> None:
    if not 1 <= batch <= MAX_BATCH:
        raise HirisearchError(f"batch must be >= 1 and <= {MAX_BATCH}, but got {batch}")
    if counters:
        from hirisearch.cost.counters import COUNTERS
    for c in counters:
        if c not in COUNTERS:
            raise CountingError(f"unknown counter {c!r}; valid: {', '.join(COUNTERS)}")
    if convention == FVCORE and not traced:
        raise CountingError(
            "--convention fvcore is computed from the traced count: drop --no-trace"
        )


def _count(
    sized: SizedTarget,
    tree: CostNode | None,
    batch: int,
    *,
    traced: bool,
    fvcore: bool,
    limit: int | None,
) -> tuple[TracedCount | None, str]:
    """The traced count of ``sized`` (run whenever there is no ``tree``) and why it was skipped
    ("" when it ran). An eager fallback is refused when the analytic memory estimate (where
    there is a tree) exceeds what the CPU has; a failed count leaves the analytic one."""
    skipped = trace_skip_reason(tree, sized.input_shape, batch=batch, limit=limit) if traced else ""
    if (not traced or skipped) and tree is not None:
        return None, skipped
    from hirisearch.cost.counters import count_traced
    from hirisearch.cost.memory import estimate_memory

    shape = sized.input_shape
    eager_bytes = None if tree is None else estimate_memory(tree, shape, batch=batch).total_bytes
    source = None if sized.tree is not None else sized.target.ref  # user code: name it
    try:
        tc = count_traced(sized.build, shape, batch=batch, eager_bytes=eager_bytes, source=source)
    except CountingError as e:
        if tree is None or fvcore:
            raise
        return None, f"traced count failed: {e.one_line()}; analytic count only"
    return tc, skipped
