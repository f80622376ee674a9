"""Profiling one model at one input size: analytic cost, traced count, cross-checks, per-stage
breakdown. Results are frozen dataclasses; presentation lives in :mod:`hirisearch.report`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from hirisearch.cost.convention import CONVENTION, CONVENTION_FVCORE
from hirisearch.cost.join import AGREEMENT_TOLERANCE, SectionResult, join_counts
from hirisearch.cost.types import CostNode
from hirisearch.errors import CountingError, HirisearchError
from hirisearch.limits import MAX_BATCH, TRACED_MODULE_LIMIT
from hirisearch.ops import Count, ImgSize, Positive
from hirisearch.targets import Size, SizedTarget, Target

if TYPE_CHECKING:  # the counters import torch: only a traced count loads them
    from hirisearch.cost.counters import CrossCheck, TracedCount
    from hirisearch.ops.train import TrainProfile
    from hirisearch.tasks.split import TaskSplit
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
#: The module modes a traced pass counts in (``eval``: inference, the default).
MODES = ("eval", "train")
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
    img_size: ImgSize
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
    #: The module mode of the count: ``eval`` (inference) or ``train``.
    mode: str = "eval"
    #: Every input of the forward pass as ``dtype[shape]`` (batch included), ``name=`` for
    #: keyword inputs.
    inputs: tuple[str, ...] = ()
    #: Operators that ran and were counted by the user's functions (``register_op_count``).
    custom_ops: tuple[str, ...] = ()
    #: What a training step costs (``profile --train``); None: not asked.
    train: TrainProfile | None = None
    #: A task model's backbone / neck / head split (``--task``); None: a bare model.
    task: TaskSplit | None = None

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def breakdown(self, depth: int = 2) -> tuple[SectionResult, ...]:
        """The stages, each followed by its modules down to ``depth`` (1: the stages alone).

        Raises:
            HirisearchError: a result made elsewhere (read from a document) holding fewer levels
                than asked.
        """
        if depth <= 1:
            return self.stages
        detail = self.__dict__.get("_detail")
        if detail is not None:
            return detail(depth=depth).rows  # type: ignore[no-any-return]
        have = max((s.depth for s in self.rows), default=1)
        if have < depth:
            raise HirisearchError(
                f"this result holds its breakdown down to depth {have}; profile with "
                f"depth={depth} for more"
            )
        return tuple(s for s in self.rows if s.depth <= depth)

    def table(self, depth: int = 1) -> Any:
        """The profile as the command line prints it, with the breakdown down to ``depth``: a
        view that Jupyter shows as a table (``_repr_html_``), Rich renders (``__rich__``) and
        ``str()`` gives as text. Nothing is printed."""
        from hirisearch.report.terminal.notebook import profile_view

        return profile_view(self, self.breakdown(depth))

    def __rich__(self) -> Any:
        return self.table().__rich__()

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()  # type: ignore[no-any-return]

    @property
    def attn_share(self) -> float:
        cats = self.categories_traced if self.categories_traced is not None else self.categories
        return cats.get("attn", 0) / self.macs if self.macs else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable document (tuples become lists): what ``profile --json`` prints."""
        doc = asdict(replace(self, train=None, task=None))
        del doc["train"], doc["task"]  # only with --train / --task: other documents keep theirs
        if self.train is not None:
            doc["train"] = self.train.to_json()
        if self.task is not None:
            doc["task"] = self.task.to_json()
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


def profile_target(target: Target, img_size: Size | None = None, **options: Any) -> ProfileResult:
    """Profile ``target`` at ``img_size`` (default: its own): :func:`profile_sized` of
    ``target.at(img_size)`` with the same options.

    Options:
        depth: 1 shows the stages; larger values add module rows down to that depth.
        traced: run the meta-device traced count next to the analytic cost.
        counters: external cross-check counters (``fvcore``, ``thop``, ``ptflops``), run eagerly.
        convention: ``"ours"``; ``"fvcore"``: GFLOPs as fvcore counts them (our MACs plus norms,
            upsampling and adaptive pooling, from the traced count); or another project's
            counting path the family provides (e.g. ``"piip"``); then the analytic cost follows
            that path and no traced count is run (it measures our convention).
        trace_limit: skip the traced count (with a note) above this many modules; None: no limit.
        mode: ``"eval"`` or ``"train"``: the module mode of the traced pass (BatchNorm on batch
            statistics counts as fvcore counts it); ``train`` reads the traced count alone.
        custom_ops: counts for operators the counter does not know (MACs), over those of
            :func:`hirisearch.cost.custom_ops.register_op_count`.
        train: also cost a training step under this configuration (its batch is the training
            batch): :func:`hirisearch.ops.train.train_profile`, traced when ``traced``.
        memories: device names or sizes for the training "fits on" table (None: the default
            devices).
        measure: with ``train``, also measure a real training step's peak memory.
    """
    return profile_sized(target.at(img_size), **options)


def profile_sized(
    sized: SizedTarget,
    *,
    batch: int = 1,
    depth: int = 1,
    traced: bool = True,
    counters: Sequence[str] = (),
    convention: str = "ours",
    trace_limit: int | None = TRACED_MODULE_LIMIT,
    mode: str = "eval",
    custom_ops: Mapping[Any, Callable[..., int]] | None = None,
    train: TrainConfig | None = None,
    memories: Sequence[str | int] | None = None,
    measure: bool = False,
) -> ProfileResult:
    """Profile a sized target for a batch of ``batch`` (example inputs carry their own); the
    options are described at :func:`profile_target`."""
    spec = sized.input_spec
    batch = _check_options(batch, spec.own_batch, counters, convention, traced, mode)
    fvcore, train_mode = convention == FVCORE, mode == "train"
    target = sized.target
    other = None if fvcore else target.convention(convention)
    tree = sized.tree
    if other is not None:
        tree, traced = other.cost(sized.plan), False
    joined_tree = None if fvcore or train_mode else tree
    why = "--convention fvcore" if fvcore else "mode='train'"
    how = _How(
        train_mode, custom_ops, joined_tree is None and other is None, fvcore or train_mode, why
    )
    tc, skipped = _count(sized, tree, batch, how, traced=traced, limit=trace_limit)
    warnings = [*getattr(sized.plan, "warnings", ()), *([skipped] if skipped else [])]
    detail = partial(join_counts, joined_tree, tc, sized.sections, batch=batch, fvcore=fvcore)
    joined = detail(depth=depth)
    warnings += joined.warnings
    if tc is not None and tc.note:
        warnings.append(tc.note)
    result = ProfileResult(
        spec=target.ref,
        family=target.family,
        name=target.name,
        img_size=sized.resolution,
        input_shape=spec.first.shape if spec.batched else (batch, *sized.input_shape),
        batch=batch,
        dtype="fp32",
        convention=CONVENTION_FVCORE if fvcore else other.description if other else CONVENTION,
        params=joined.total.params,
        macs=joined.macs,
        macs_analytic=joined.macs_analytic,
        macs_traced=joined.macs_traced,
        agreement=joined.agreement,
        norm=joined.total.norm,
        acts=_acts(sized, batch, tc, other is not None),
        categories=joined.categories,
        categories_traced=joined.categories_traced,
        traced_mode=None if tc is None else tc.mode,
        traced_note=skipped if tc is None else tc.note,
        traced_seconds=None if tc is None else tc.seconds,
        uncounted_ops=_uncounted(tc, fvcore),
        stages=joined.stages,
        rows=joined.rows,
        counters=_cross_checks(sized, counters),
        warnings=tuple(warnings),
        paper_conventions={} if other is not None or fvcore else _paper_conventions(sized, batch),
        mode=mode,
        inputs=spec.describe(batch),
        custom_ops=() if tc is None else tc.custom_ops,
        train=None if train is None else _train(sized, train, joined, traced, memories, measure),
        task=_task(sized, tree, batch),
    )
    object.__setattr__(result, "_detail", detail)  # the breakdown at any depth (table())
    return result


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


def _task(sized: SizedTarget, tree: CostNode | None, batch: int) -> TaskSplit | None:
    """The backbone / neck / head split of a task model's ``tree`` (the convention's), ``None``
    for a bare model."""
    if getattr(sized.plan, "task", None) is None or tree is None:  # not a TaskPlan
        return None
    from hirisearch.tasks.split import task_split  # only a task model needs it

    return task_split(sized.plan, tree, batch=batch)


def _paper_conventions(sized: SizedTarget, batch: int) -> dict[str, int]:
    """The total MACs of each counting path the family's paper published in (``shown``)."""
    if sized.plan is None:
        return {}
    shown = (c for c in sized.target.source.conventions if c.shown)
    return {c.name: c.cost(sized.plan).total.scaled(batch).macs for c in shown}


@dataclass(frozen=True)
class _How:
    """How the traced pass runs: the module mode, the user's operator counts, activations."""

    train: bool
    custom_ops: Mapping[Any, Callable[..., int]] | None
    with_acts: bool
    strict: bool  # the result reads the traced count alone: its failure is the result's
    why: str = ""  # what makes it strict, for the error


def _acts(sized: SizedTarget, batch: int, tc: TracedCount | None, other: bool) -> int | None:
    """Activations: the analytic count where there is one, else the traced pass's (``None``
    under another project's convention, which does not count them)."""
    if other:
        return None
    if sized.tree is not None:
        return sized.tree.total.scaled(batch).acts
    return tc.total.acts if tc is not None else None


def _uncounted(tc: TracedCount | None, fvcore: bool) -> tuple[str, ...]:
    """Operators that ran and are not in the total: resampling is, in fvcore's convention."""
    if tc is None:
        return ()
    return tc.uncounted_ops if fvcore else tuple(sorted([*tc.uncounted_ops, *tc.resample_ops]))


def _cross_checks(sized: SizedTarget, counters: Sequence[str]) -> tuple[CrossCheck, ...]:
    if not counters:
        return ()
    from hirisearch.cost.counters import cross_check

    spec = sized.input_spec
    if len(list(spec.tensors())) > 1 or spec.args[:1] != (spec.first,) or spec.kwargs:
        raise HirisearchError("cross-check counters take models of one tensor input")
    return tuple(cross_check(c, sized.build(device="cpu"), sized.input_shape) for c in counters)


def _check_options(
    batch: int,
    own_batch: int | None,
    counters: Sequence[str],
    convention: str,
    traced: bool,
    mode: str,
) -> int:
    """The batch counted (example inputs carry theirs); wrong options raise."""
    if not 1 <= batch <= MAX_BATCH:
        raise HirisearchError(f"batch must be >= 1 and <= {MAX_BATCH}, but got {batch}")
    if own_batch is not None and batch != 1:
        raise HirisearchError(
            f"batch={batch}: the example inputs carry their own batch ({own_batch}); "
            "batch applies to inputs given as shapes"
        )
    if counters:
        from hirisearch.cost.counters import COUNTERS
    for c in counters:
        if c not in COUNTERS:
            raise CountingError(f"unknown counter {c!r}; valid: {', '.join(COUNTERS)}")
    if mode not in MODES:
        raise HirisearchError(f"mode must be one of {', '.join(MODES)}, but got {mode!r}")
    if convention == FVCORE and not traced:
        raise CountingError(
            "--convention fvcore is computed from the traced count: drop --no-trace"
        )
    if mode == "train" and not traced:
        raise CountingError("mode 'train' is counted by the traced pass: drop --no-trace")
    return own_batch if own_batch is not None else batch


def _count(
    sized: SizedTarget,
    tree: CostNode | None,
    batch: int,
    how: _How,
    *,
    traced: bool,
    limit: int | None,
) -> tuple[TracedCount | None, str]:
    """The traced count of ``sized`` (run whenever there is no ``tree``) and why it was skipped
    ("" when it ran). An eager fallback is refused when the analytic memory estimate (where
    there is a tree) exceeds what the CPU has; a failed count leaves the analytic one, unless
    the result is read from the traced count alone (fvcore's convention, training mode)."""
    skipped = trace_skip_reason(tree, sized.input_shape, batch=batch, limit=limit) if traced else ""
    if (not traced or skipped) and tree is not None:
        if how.strict:  # the result is read from the traced count alone
            raise CountingError(f"{how.why} needs the traced count, but {skipped}")
        return None, skipped
    from hirisearch.cost.counters import count_traced
    from hirisearch.cost.memory import estimate_memory

    shape = sized.input_shape
    eager_bytes = None if tree is None else estimate_memory(tree, shape, batch=batch).total_bytes
    source = None if sized.tree is not None else sized.target.ref  # user code: name it
    try:
        tc = count_traced(
            partial(sized.instance, batch=batch),
            sized.input_spec,
            batch=batch,
            eager_bytes=eager_bytes,
            source=source,
            with_acts=how.with_acts,
            train=how.train,
            custom_ops=dict(how.custom_ops or {}),
        )
    except CountingError as e:
        if tree is None or how.strict:
            raise
        return None, f"traced count failed: {e.one_line()}; analytic count only"
    return tc, skipped
