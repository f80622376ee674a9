"""Profiling one model at one input size: analytic cost, traced count, cross-checks, per-stage
breakdown. Results are frozen dataclasses; presentation lives in :mod:`hirisearch.report`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from hirisearch.cost.convention import CONVENTION, CONVENTION_FVCORE
from hirisearch.cost.types import Cost, CostNode
from hirisearch.errors import CountingError, HirisearchError
from hirisearch.limits import MAX_BATCH, TRACED_MODULE_LIMIT
from hirisearch.models import get_family
from hirisearch.targets import Target

if TYPE_CHECKING:  # the counters import torch: only a traced count loads them
    from hirisearch.cost.counters import CrossCheck, TracedCount

#: ``--convention fvcore``: GFLOPs as fvcore counts them (see :func:`profile_target`).
FVCORE = "fvcore"
#: Analytic and traced MACs must agree within this relative tolerance, or the profile flags it.
AGREEMENT_TOLERANCE = 1e-3
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
class SectionResult:
    """One row of the breakdown: a stage (depth 1) or a module below it."""

    name: str
    path: str
    depth: int
    params: int
    macs: int
    macs_traced: int | None
    share: float
    out_shape: tuple[int, ...]
    acts: int | None  # None: no analytic model (activations come from it)
    norm: int
    macs_analytic: int | None = None  # None: no analytic model (or another convention)


@dataclass(frozen=True)
class ProfileResult:
    """The cost of one model at one input size and batch (counts are for the whole batch)."""

    spec: str
    family: str
    name: str
    img_size: int
    input_shape: tuple[int, ...]
    batch: int
    dtype: str
    convention: str
    params: int
    macs: int
    macs_analytic: int | None
    macs_traced: int | None
    agreement: float | None
    norm: int
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

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def attn_share(self) -> float:
        cats = self.categories_traced if self.categories_traced is not None else self.categories
        return cats.get("attn", 0) / self.macs if self.macs else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable document (tuples become lists): what ``profile --json`` prints."""
        doc = asdict(self)
        doc["gmacs"] = round(self.gmacs, 6)
        doc["attn_share"] = self.attn_share
        return doc

    def to_dict(self) -> dict[str, Any]:
        """The same document as :meth:`to_json`."""
        return self.to_json()


def _categories(cost: Cost) -> dict[str, int]:
    return {
        "conv": cost.conv,
        "linear": cost.linear,
        "attn": cost.attn,
        "other": cost.other,
        "norm": cost.norm,
    }


def _traced_macs(traced: TracedCount | None, path: str, fvcore: bool) -> int | None:
    """A module's traced MACs; under ``fvcore``, with its norms and resampling added."""
    t = traced.per_path.get(path) if traced is not None else None
    if t is None or traced is None:
        return None
    return t.macs + (t.norm + traced.resample.get(path, 0) if fvcore else 0)


def _sections(
    tree: CostNode | None,
    traced: TracedCount | None,
    sections: Sequence[tuple[str, str]],
    total_macs: int,
    batch: int,
    fvcore: bool = False,
) -> tuple[SectionResult, ...]:
    rows = []
    for label, path in sections:
        node = tree.child(path) if tree is not None else None
        t = traced.per_path.get(path) if traced is not None else None
        cost = node.total.scaled(batch) if node is not None else (t or Cost())
        macs_traced = _traced_macs(traced, path, fvcore)
        macs = cost.macs if node is not None else (macs_traced or 0)
        rows.append(
            SectionResult(
                name=label,
                path=path,
                depth=1,
                params=cost.params,
                macs=macs,
                macs_traced=macs_traced,
                share=macs / total_macs if total_macs else 0.0,
                out_shape=(batch, *node.out_shape) if node is not None and node.out_shape else (),
                acts=cost.acts if node is not None else None,
                norm=cost.norm,
                macs_analytic=cost.macs if node is not None else None,
            )
        )
    return tuple(rows)


def _detail_rows(
    tree: CostNode,
    traced: TracedCount | None,
    sections: tuple[SectionResult, ...],
    depth: int,
    total_macs: int,
    batch: int,
) -> tuple[SectionResult, ...]:
    """Each section row followed by its modules down to ``depth - 1`` levels below it."""
    rows = []
    for section in sections:
        rows.append(section)
        for rel, node in tree.child(section.path).walk(section.path, max_depth=depth - 1):
            cost = node.total.scaled(batch)
            t = traced.per_path.get(rel) if traced is not None else None
            rows.append(
                SectionResult(
                    name=rel.rsplit(".", 1)[-1],
                    path=rel,
                    depth=rel.count(".") - section.path.count(".") + 1,
                    params=cost.params,
                    macs=cost.macs,
                    macs_traced=None if t is None else t.macs,
                    share=cost.macs / total_macs if total_macs else 0.0,
                    out_shape=(batch, *node.out_shape) if node.out_shape else (),
                    acts=cost.acts,
                    norm=cost.norm,
                    macs_analytic=cost.macs,
                )
            )
    return tuple(rows)


def _traced_rows(
    traced: TracedCount,
    sections: tuple[SectionResult, ...],
    depth: int,
    total_macs: int,
    fvcore: bool = False,
) -> tuple[SectionResult, ...]:
    """As :func:`_detail_rows` from the traced count alone (no analytic columns), in module
    order."""
    rows = []
    for section in sections:
        rows.append(section)
        prefix = section.path + "."
        for path, cost in traced.per_path.items():
            below = path.count(".") - section.path.count(".")
            if not path.startswith(prefix) or below >= depth:
                continue
            macs = _traced_macs(traced, path, fvcore) or 0
            rows.append(
                SectionResult(
                    name=path.rsplit(".", 1)[-1],
                    path=path,
                    depth=below + 1,
                    params=cost.params,
                    macs=macs,
                    macs_traced=macs,
                    share=macs / total_macs if total_macs else 0.0,
                    out_shape=(),
                    acts=None,
                    norm=cost.norm,
                )
            )
    return tuple(rows)


def _top_level_sections(traced: TracedCount) -> tuple[tuple[str, str], ...]:
    names = sorted({p.split(".")[0] for p in traced.per_path if p}, key=list(traced.per_path).index)
    return tuple((n, n) for n in names)


def profile_target(
    target: Target,
    img_size: int | None = None,
    *,
    batch: int = 1,
    depth: int = 1,
    traced: bool = True,
    counters: Sequence[str] = (),
    convention: str = "ours",
    trace_limit: int | None = TRACED_MODULE_LIMIT,
) -> ProfileResult:
    """Profile ``target`` at ``img_size`` (default: its own) for a batch of ``batch``.

    Args:
        depth: 1 shows the stages; larger values add module rows down to that depth.
        traced: run the meta-device traced count next to the analytic cost.
        counters: external cross-check counters (``fvcore``, ``thop``, ``ptflops``), run eagerly.
        convention: ``"ours"``; ``"fvcore"``: GFLOPs as fvcore counts them (our MACs plus norms,
            upsampling and adaptive pooling, from the traced count); or another project's
            counting path the family provides (e.g. ``"piip"``); then the analytic cost follows
            that path and no traced count is run (it measures our convention).
        trace_limit: skip the traced count (with a note) above this many modules; None: no limit.
    """
    if not 1 <= batch <= MAX_BATCH:
        raise HirisearchError(f"batch must be >= 1 and <= {MAX_BATCH}, but got {batch}")
    if counters:
        from hirisearch.cost.counters import COUNTERS
    for c in counters:
        if c not in COUNTERS:
            raise CountingError(f"unknown counter {c!r}; valid: {', '.join(COUNTERS)}")
    fvcore = convention == FVCORE
    if fvcore and not traced:
        raise CountingError(
            "--convention fvcore is computed from the traced count: drop --no-trace"
        )
    other = None if fvcore else target.convention(convention)
    plan = target.plan(img_size)
    size = plan.img_size if plan is not None else (img_size or target.default_img_size)
    tree = target.cost(plan) if plan is not None else None
    if other is not None:
        tree, traced = other.cost(plan), False
    input_shape = target.input_shape(size, plan)
    build = target.builder(size, plan)
    warnings = list(getattr(plan, "warnings", ()))
    skipped = trace_skip_reason(tree, input_shape, batch=batch, limit=trace_limit) if traced else ""
    tc = None
    if (traced and not skipped) or tree is None:
        from hirisearch.cost.counters import count_traced
        from hirisearch.memory import estimate_memory

        try:
            eager_bytes = (
                estimate_memory(tree, input_shape, batch=batch).total_bytes
                if tree is not None
                else None
            )
            source = None if target.has_analytic else target.ref
            tc = count_traced(
                build, input_shape, batch=batch, eager_bytes=eager_bytes, source=source
            )
        except CountingError as e:
            if tree is None or fvcore:
                raise
            skipped = f"traced count failed: {e.one_line()}; analytic count only"
    if fvcore and tc is None:
        raise CountingError(f"--convention fvcore needs the traced count, but {skipped}")
    if skipped:
        warnings.append(skipped)
    if tree is not None:
        total = tree.total.scaled(batch)
        macs_analytic = total.macs
    else:
        total = tc.total if tc is not None else Cost()
        macs_analytic = None
    macs = total.macs
    agreement = None
    macs_traced = None if tc is None else tc.total.macs
    if fvcore and tc is not None:  # the traced count in fvcore's terms, analytic columns blank
        total, macs_analytic = tc.total, None
        macs = macs_traced = _traced_macs(tc, "", True) or 0
    if tc is not None and macs_analytic is not None:
        agreement = (tc.total.macs - macs_analytic) / macs_analytic if macs_analytic else 0.0
        if abs(agreement) > AGREEMENT_TOLERANCE:
            warnings.append(
                f"analytic and traced MACs disagree by {agreement:+.2%} (tolerance {AGREEMENT_TOLERANCE:.1%})"
            )
    if tc is not None and tc.note:
        warnings.append(tc.note)
    sections = target.sections(plan) or (_top_level_sections(tc) if tc is not None else ())
    stage_rows = _sections(None if fvcore else tree, tc, sections, macs, batch, fvcore)
    if depth <= 1:
        rows: tuple[SectionResult, ...] = ()
    elif tree is not None and not fvcore:
        rows = _detail_rows(tree, tc, stage_rows, depth, macs, batch)
    else:
        rows = _traced_rows(tc, stage_rows, depth, macs, fvcore) if tc is not None else ()
    results = []
    for name in counters:
        from hirisearch.cost.counters import cross_check

        model = build(device="cpu")
        results.append(cross_check(name, model, input_shape))
    return ProfileResult(
        spec=target.ref,
        family=target.family,
        name=target.name,
        img_size=size,
        input_shape=(batch, *input_shape),
        batch=batch,
        dtype="fp32",
        convention=CONVENTION_FVCORE
        if fvcore
        else CONVENTION
        if other is None
        else other.description,
        params=total.params,
        macs=macs,
        macs_analytic=macs_analytic,
        macs_traced=macs_traced,
        agreement=agreement,
        norm=total.norm,
        acts=total.acts if tree is not None and other is None and not fvcore else None,
        categories=_categories(total),
        categories_traced=None
        if tc is None
        else {**_categories(tc.total), "resample": tc.resample.get("", 0)},
        traced_mode=None if tc is None else tc.mode,
        traced_note=skipped if tc is None else tc.note,
        traced_seconds=None if tc is None else tc.seconds,
        uncounted_ops=() if tc is None else tc.uncounted_ops,
        stages=stage_rows,
        rows=rows,
        counters=tuple(results),
        warnings=tuple(warnings),
        paper_conventions=_paper_conventions(target, plan, batch)
        if other is None and not fvcore
        else {},
    )


def _paper_conventions(target: Target, plan: Any, batch: int) -> dict[str, int]:
    """The total MACs of each counting path the family's paper published in (``shown``)."""
    if plan is None or not target.has_analytic:
        return {}
    shown = (c for c in get_family(target.family).conventions if c.shown)
    return {c.name: c.cost(plan).total.scaled(batch).macs for c in shown}
