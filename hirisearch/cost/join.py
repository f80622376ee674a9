"""The analytic cost tree and the traced count of one model, joined: totals, their agreement, the
operator categories, and one row per stage (and per module below it) with both columns.

Either side may be missing: a model without an analytic cost has only the traced count (its rows
come from the traced module paths), a profile without a trace only the tree. Torch-free: the
traced count is read, never run, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hirisearch.cost.types import Cost, CostNode
from hirisearch.ops import Count

if TYPE_CHECKING:  # the counters import torch
    from hirisearch.cost.counters import TracedCount

#: Analytic and traced MACs must agree within this relative tolerance, or the join flags it.
AGREEMENT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class SectionResult:
    """One row of the breakdown: a stage (depth 1) or a module below it."""

    name: str
    path: str
    depth: int
    params: Count
    macs: Count
    macs_traced: int | None
    share: float
    out_shape: tuple[int, ...]
    acts: int | None  # None: no analytic model (activations come from it)
    norm: int
    macs_analytic: int | None = None  # None: no analytic model (or another convention)


@dataclass(frozen=True)
class JoinedCount:
    """Both counts of one model for a whole batch (see :func:`join_counts`)."""

    total: Cost  # the figures reported: analytic where there is a tree (traced under fvcore)
    macs: int
    macs_analytic: int | None
    macs_traced: int | None
    agreement: float | None  # (traced - analytic) / analytic
    categories: dict[str, int]
    categories_traced: dict[str, int] | None
    stages: tuple[SectionResult, ...]
    rows: tuple[SectionResult, ...]
    warnings: tuple[str, ...]


def categories(cost: Cost) -> dict[str, int]:
    return {
        "conv": cost.conv,
        "linear": cost.linear,
        "attn": cost.attn,
        "other": cost.other,
        "norm": cost.norm,
    }


def traced_macs(traced: TracedCount | None, path: str, fvcore: bool) -> int | None:
    """A module's traced MACs; under ``fvcore``, with its norms and resampling added."""
    t = traced.per_path.get(path) if traced is not None else None
    if t is None or traced is None:
        return None
    return t.macs + (t.norm + traced.resample.get(path, 0) if fvcore else 0)


def traced_acts(traced: TracedCount | None, path: str) -> int | None:
    """A module's traced activations, where the traced pass counted them."""
    if traced is None or not traced.acts_counted:
        return None
    t = traced.per_path.get(path)
    return t.acts if t is not None else 0


def join_counts(
    tree: CostNode | None,
    traced: TracedCount | None,
    sections: Sequence[tuple[str, str]] | None,
    *,
    batch: int = 1,
    depth: int = 1,
    fvcore: bool = False,
) -> JoinedCount:
    """Join the analytic ``tree`` (one sample) and the ``traced`` count (the whole batch).

    Args:
        sections: (label, module path) of the stages; none: the traced count's top-level
            modules.
        depth: 1 gives the stages; larger values add module rows down to that depth.
        fvcore: report the traced count in fvcore's terms (norms and resampling added), with the
            analytic columns blank.
    """
    if tree is not None:
        total = tree.total.scaled(batch)
        macs_analytic: int | None = total.macs
    else:
        total = traced.total if traced is not None else Cost()
        macs_analytic = None
    macs = total.macs
    macs_traced = None if traced is None else traced.total.macs
    if fvcore and traced is not None:  # the traced count in fvcore's terms, analytic columns blank
        total, macs_analytic = traced.total, None
        macs = macs_traced = traced_macs(traced, "", True) or 0
    agreement, warnings = None, []
    if traced is not None and macs_analytic is not None:
        agreement = (traced.total.macs - macs_analytic) / macs_analytic if macs_analytic else 0.0
        if abs(agreement) > AGREEMENT_TOLERANCE:
            warnings.append(
                f"analytic and traced MACs disagree by {agreement:+.2%} "
                f"(tolerance {AGREEMENT_TOLERANCE:.1%})"
            )
    if not sections:
        sections = _top_level_sections(traced) if traced is not None else ()
    analytic = None if fvcore else tree
    stages = _sections(analytic, traced, sections, macs, batch, fvcore)
    if depth <= 1:
        rows: tuple[SectionResult, ...] = ()
    elif analytic is not None:
        rows = _detail_rows(analytic, traced, stages, depth, macs, batch)
    else:
        rows = _traced_rows(traced, stages, depth, macs, fvcore) if traced is not None else ()
    return JoinedCount(
        total=total,
        macs=macs,
        macs_analytic=macs_analytic,
        macs_traced=macs_traced,
        agreement=agreement,
        categories=categories(total),
        categories_traced=None
        if traced is None
        else {**categories(traced.total), "resample": traced.resample.get("", 0)},
        stages=stages,
        rows=rows,
        warnings=tuple(warnings),
    )


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
        macs_traced = traced_macs(traced, path, fvcore)
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
                acts=cost.acts if node is not None else traced_acts(traced, path),
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
            macs = traced_macs(traced, path, fvcore) or 0
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
                    acts=traced_acts(traced, path),
                    norm=cost.norm,
                )
            )
    return tuple(rows)


def _top_level_sections(traced: TracedCount) -> tuple[tuple[str, str], ...]:
    """The model's top-level modules; a model without children is its own one row."""
    names = sorted({p.split(".")[0] for p in traced.per_path if p}, key=list(traced.per_path).index)
    if not names and "" in traced.per_path:
        return (("model", ""),)
    return tuple((n, n) for n in names)
