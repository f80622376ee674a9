"""What ``hirisearch compare`` prints: Rich renderables as pure functions of a
:class:`~hirisearch.ops.compare.CompareResult`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hirisearch.cost.convention import CONVENTION
from hirisearch.models.resolution import size_key, size_label
from hirisearch.report import format as fmt
from hirisearch.report.terminal.fit import Column, FitTable

if TYPE_CHECKING:  # ops.compare renders itself through this module (CompareResult.table)
    from hirisearch.ops.compare import CompareResult
    from hirisearch.tasks.split import TaskSplit


def compare_header(result: CompareResult) -> str:
    """The line above a comparison: the convention, batch, dtype and resolutions."""
    rows = result.rows
    batch = rows[0].profile.batch if rows else 1
    sizes = ", ".join(
        size_label(s) for s in sorted({r.profile.img_size for r in rows}, key=size_key)
    )
    conventions = " / ".join(dict.fromkeys(r.profile.convention for r in rows)) or CONVENTION
    modes = "/".join(dict.fromkeys(r.profile.mode for r in rows)) or "eval"
    return f"resolutions {sizes}, batch {batch}, fp32, {modes} mode\n{conventions}"


def compare_table(result: CompareResult) -> FitTable:
    """Model x resolution: params, GFLOPs, ratio to the first model at the same resolution,
    attention share of the GFLOPs, and the last stage's output grid; with ``--task``, the
    backbone's share of the task model's GFLOPs; with ``--predict``, the
    predicted latency with its interval."""
    rows = result.rows
    train = rows[0].profile.train if rows else None
    heads: tuple[str, ...] = ("res", "params", "GFLOPs", "vs first", "attn", "out grid")
    tasks = any(r.profile.task is not None for r in rows)
    if tasks:
        heads += ("backbone",)
    if train is not None:
        heads += ("train GFLOPs", "train peak")
    coverage = next((r.predicted.coverage for r in rows if r.predicted is not None), None)
    if coverage is not None:
        heads += (f"predicted ms ({coverage:.0%})",)
    caption = (
        "vs first: GFLOPs / the first model's at the same size\n"
        "attn: share of the GFLOPs in attention matmuls"
    )
    if tasks:
        caption += "\nbackbone: its share of the task model's GFLOPs (neck and head: the rest)"
    if train is not None:
        c = train.config
        traced = dict.fromkeys(
            r.profile.name
            for r in rows
            if r.profile.train is not None and r.profile.train.basis == "traced"
        )
        basis = f"; traced and simulated: {', '.join(traced)}" if traced else ""
        caption += (
            f"\ntrain: forward + backward of a batch of {c.batch}, {c.dtype}, {c.optimizer}, "
            f"checkpointing {c.checkpoint}; peak memory of one device (analytic{basis})"
        )
    t = FitTable([Column("model", "left", text=True), *(Column(h) for h in heads)], caption=caption)
    previous = None
    for r in rows:
        p = r.profile
        new_model = p.spec != previous
        cells = [
            p.name if new_model else "",
            size_label(p.img_size),
            fmt.params_m(p.params),
            fmt.gmacs(p.macs),
            fmt.ratio(r.ratio),
            fmt.pct(p.attn_share),
            fmt.shape(r.out_grid),
        ]
        if tasks:
            cells.append(_backbone_share(p.task))
        if p.train is not None:
            cells += [fmt.gflops(p.train.cost.macs.total), fmt.memory(p.train.cost.memory.peak)]
        if coverage is not None:
            q = r.predicted
            cells.append("-" if q is None else fmt.ms_interval(q.ms, (q.low_ms, q.high_ms)))
        t.add_row(*cells)
        previous = p.spec
    return t


def _backbone_share(task: TaskSplit | None) -> str:
    """The backbone's share of a task model's MACs, ``-`` for a bare model."""
    if task is None:
        return "-"
    return next((fmt.pct(p.macs_share) for p in task.parts if p.part == "backbone"), "-")
