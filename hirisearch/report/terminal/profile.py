"""What ``hirisearch profile`` prints: Rich renderables as pure functions of a
:class:`~hirisearch.ops.profile.ProfileResult`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from hirisearch.cost.convention import CONVENTION, CONVENTION_FVCORE, headline
from hirisearch.latency.interval import FALLBACK_NOTE
from hirisearch.models.resolution import as_hw, size_dims, size_label
from hirisearch.report import format as fmt
from hirisearch.report.terminal.fit import Column, FitTable

if TYPE_CHECKING:  # ops.profile renders itself through this module (ProfileResult.table)
    from hirisearch.ops.bench import ProfileLatency
    from hirisearch.ops.profile import ProfileResult, SectionResult
    from hirisearch.tasks.split import TaskSplit


def profile_header(r: ProfileResult) -> str:
    """The lines above a profile: model, source, input size (every input where there are
    several or one is not a float32 image), batch, dtype and module mode; then the convention."""
    head = headline(r.img_size, r.batch, r.dtype)
    shown = f"input {size_dims(r.img_size)}"
    if len(r.inputs) > 1 or (r.inputs and not r.inputs[0].startswith("float32[")):
        head = head.replace(shown, f"inputs {', '.join(r.inputs)}")
    elif len(r.input_shape) != 4 or tuple(r.input_shape[-2:]) != as_hw(r.img_size):
        shape = "x".join(str(d) for d in r.input_shape[1:])  # not an image: the whole shape
        head = head.replace(shown, f"input {shape}")
    convention, _, inputs = head.partition("; ")
    if r.convention != CONVENTION:  # another project's counting path (--convention)
        convention = r.convention
    return f"{r.name} ({r.spec}): {inputs}, {r.mode} mode\n{convention}"


def profile_summary(r: ProfileResult) -> FitTable:
    """Totals: params, GFLOPs analytic and traced, agreement, norms, activations, cross-checks."""
    t = FitTable(
        [Column("measure", "left", text=True), Column("value"), Column("note", "left", text=True)]
    )
    t.add_row("params", fmt.params_m(r.params), "all parameters, heads included")
    t.add_row(
        "GFLOPs analytic",
        fmt.gmacs(r.macs_analytic),
        "closed form from the spec"
        if r.macs_analytic is not None
        else "the analytic model counts the papers' convention"
        if r.convention == CONVENTION_FVCORE
        else "no analytic model for this source",
    )
    for name, macs in r.paper_conventions.items():
        t.add_row(
            f"paper's convention ({name})",
            fmt.gmacs(macs),
            f"--convention {name}: its breakdown",
        )
    if r.macs_traced is not None:
        t.add_row(
            "GFLOPs traced",
            fmt.gmacs(r.macs_traced),
            f"FlopCounterMode on {r.traced_mode}, {r.traced_seconds:.2f} s",
        )
    elif r.traced_note:
        t.add_row("GFLOPs traced", "n/a", r.traced_note)
    if r.agreement is not None:
        ok = abs(r.agreement) <= 1e-3
        t.add_row(
            "agreement",
            Text(fmt.signed_pct(r.agreement), style="green" if ok else "bold red"),
            "traced vs analytic",
        )
    t.add_row("by operator", "", _operator_shares(r))
    fvcore = r.convention == CONVENTION_FVCORE
    t.add_row(
        "norms" if fvcore else "norms (separate)",
        fmt.gmacs(r.norm),
        "BN/LN/GN as fvcore counts; " + ("in GFLOPs" if fvcore else "not in GFLOPs"),
    )
    if fvcore and r.categories_traced is not None:
        t.add_row(
            "resampling",
            fmt.gmacs(r.categories_traced.get("resample", 0)),
            "upsampling (nearest 1, bilinear 4/elem), adaptive avg pooling; in GFLOPs",
        )
    if r.acts is not None:
        t.add_row(
            "activations",
            fmt.millions(r.acts),
            "outputs of conv, linear, attention matmuls",
        )
    if r.custom_ops:
        t.add_row("user-supplied ops", "", ", ".join(r.custom_ops) + ": counted by your functions")
    if r.uncounted_ops:
        t.add_row(
            "uncounted ops",
            "",
            ", ".join(r.uncounted_ops) + ": elementwise, not counted",
        )
    for c in r.counters:
        value = fmt.gmacs(c.macs) if c.macs is not None else "failed"
        note = c.misses if not c.error else f"{c.error}"
        t.add_row(f"{c.counter}", value, f"{note} ({c.seconds:.1f}s, eager, batch 1)")
    return t


def _operator_shares(r: ProfileResult) -> str:
    """``conv 26.8%, linear 57.4%, attn 15.8%`` (``other`` only where there is some)."""
    cats = r.categories_traced if r.categories_traced is not None else r.categories
    macs = r.macs or 1
    names = ("conv", "linear", "attn", "other")
    return ", ".join(
        f"{k} {fmt.pct(cats.get(k, 0) / macs)}" for k in names if k != "other" or cats.get(k, 0)
    )


def profile_stages(
    r: ProfileResult, rows: bool = False, *, items: Sequence[SectionResult] | None = None
) -> FitTable:
    """Per-stage (and optionally per-module) breakdown: ``items`` (default: the result's rows
    with ``rows``, else its stages)."""
    sample = r.input_shape[1:][-2:]  # one sample's last two sizes (its only one for 1-D)
    size = "x".join(str(d) for d in sample) if sample else size_label(r.img_size)
    heads = ("params", "GFLOPs", "traced", "share", "output", "acts")
    t = FitTable(
        [Column("part", "left", text=True), *(Column(h) for h in heads)],
        title=f"per stage at {size}, batch {r.batch}",
    )
    if items is None:
        items = r.rows if rows and r.rows else r.stages
    for s in items:
        name = ("  " * (s.depth - 1)) + (s.name if s.depth == 1 else s.path)
        analytic = s.macs_analytic is not None  # blank, not zero, without an analytic model
        t.add_row(
            name,
            fmt.params_m(s.params),
            fmt.gmacs(s.macs_analytic) if analytic else "",
            fmt.gmacs(s.macs_traced),
            fmt.pct(s.share),
            fmt.shape(s.out_shape) if analytic else "",
            fmt.millions(s.acts) if s.acts is not None else "",
        )
    return t


def latency_lines(lat: ProfileLatency) -> list[str | FitTable]:
    """What ``--predict`` and ``--latency`` add under a profile: the predicted latency, then the
    measurement's environment and table."""
    from hirisearch.report.terminal.bench import bench_header, bench_table  # with --latency only

    out: list[str | FitTable] = []
    p = lat.predicted
    if p is not None:
        out.append(
            f"predicted latency: {p.ms:.2f} ms, {p.coverage:.0%} interval {p.low_ms:.2f}-"
            f"{p.high_ms:.2f} ms ({lat.device}, batch {lat.batch}, calibrated; interval: "
            f"{p.basis})"
        )
        if p.fallback:
            out.append(f"note: {FALLBACK_NOTE}")
    if lat.measured is not None:
        out += [bench_header([lat.measured]), bench_table([lat.measured])]
    return out


def task_lines(split: TaskSplit) -> str:
    """A task model's preset, input size, pyramid and conventions, one line each."""
    h, w = split.img_size
    lines = [f"task {split.task}: input {h}x{w} (height x width); pyramid {split.pyramid}"]
    lines += [f"  - {c}" for c in split.conventions]
    return "\n".join(lines)


def profile_parts(
    r: ProfileResult,
    *,
    rows: bool = False,
    items: Sequence[SectionResult] | None = None,
    lat: ProfileLatency | None = None,
) -> list[str | RenderableType]:
    """Everything ``hirisearch profile`` prints for one result, in order: the header, the
    totals, a task model's preset and conventions (``--task``: the breakdown then splits it into
    backbone / neck / head), the breakdown (:func:`profile_stages`), the latency lines and the
    training tables (``--train``). The command prints them; ``ProfileResult.table()`` shows them
    in a notebook."""
    out: list[str | RenderableType] = [profile_header(r), profile_summary(r)]
    if r.task is not None:
        out.append(task_lines(r.task))
    out.append(profile_stages(r, rows, items=items))
    if lat is not None:
        out += latency_lines(lat)
    if r.train is not None:
        from hirisearch.report.terminal import train as show  # with --train only

        out += [show.train_header(r.train), show.train_stages(r.train)]
        out += [show.train_memory(r.train), show.fits_table(r.train)]
    return out
