"""What ``hirisearch profile --train`` prints: Rich renderables as pure functions of a
:class:`~hirisearch.ops.train.TrainProfile`."""

from __future__ import annotations

from collections.abc import Sequence

from hirisearch.models.resolution import size_label
from hirisearch.ops.train import TrainBenchResult, TrainProfile
from hirisearch.report import format as fmt
from hirisearch.report.terminal.fit import Column, FitTable


def train_header(t: TrainProfile) -> str:
    c = t.config
    shard = f", model states sharded over {c.shard} (ZeRO-{c.zero_stage})" if c.shard > 1 else ""
    basis = (
        "analytic training twin"
        if t.basis == "analytic"
        else "no analytic twin: MACs traced, memory simulated on the meta device"
    )
    return (
        f"training step: batch {c.batch}, {c.dtype}, optimizer {c.optimizer}, checkpointing "
        f"{c.checkpoint}, on {c.device}{shard}; {basis}"
    )


def train_stages(t: TrainProfile) -> FitTable:
    """Forward, backward (recomputation included) and total GFLOPs per stage or module; the
    traced count beside the analytic one (on the traced basis the figures are the traced
    count)."""
    analytic = t.basis == "analytic"
    heads = ("forward", "backward", "recompute", "total", *(("traced",) if analytic else ()))
    table = FitTable(
        [Column("part", "left", text=True), *(Column(h) for h in heads)],
        title=f"training GFLOPs per stage, batch {t.config.batch}"
        + ("" if analytic else " (traced)"),
    )
    rows = [(r.name if r.depth == 1 else r.path, r.depth, r.macs, r.macs_traced) for r in t.rows]
    rows.append(("total", 1, t.cost.macs, t.macs_traced))
    for name, depth, m, traced in rows:
        table.add_row(
            "  " * (depth - 1) + name,
            fmt.gflops(m.forward),
            fmt.gflops(m.backward),
            fmt.gflops(m.recompute),
            fmt.gflops(m.total),
            *(("-" if traced is None else fmt.gflops(traced.total),) if analytic else ()),
        )
    return table


def train_memory(t: TrainProfile) -> FitTable:
    """The memory of one device: model states, activations and the peak, three ways."""
    m = t.cost.memory
    table = FitTable(
        [Column("memory", "left", text=True), Column("bytes"), Column("note", "left", text=True)],
        title="training memory per device",
    )
    table.add_row("parameters", fmt.memory(m.params), "fp32 master weights")
    table.add_row("gradients", fmt.memory(m.grads), "fp32")
    table.add_row("optimizer state", fmt.memory(m.optimizer), t.config.optimizer)
    table.add_row("buffers + input", fmt.memory(m.buffers + m.input), "")
    table.add_row("activations", fmt.memory(m.activations), "kept for the backward pass")
    if t.basis == "analytic":
        table.add_row("peak, analytic", fmt.memory(m.peak), f"closed form; peak in the {m.phase}")
    simulated = "meta-device step, every tensor tracked"
    table.add_row(
        "peak, simulated",
        fmt.memory(t.peak_bytes_simulated),
        (simulated if t.basis == "analytic" else f"{simulated}; peak in the {m.phase}")
        if t.peak_bytes_simulated
        else "--no-trace",
    )
    if t.peak_bytes_measured is not None:
        table.add_row("peak, measured", fmt.memory(t.peak_bytes_measured), t.measure_method or "")
    return table


def fits_table(t: TrainProfile) -> FitTable:
    """The largest batch per memory, with the reserve stated."""
    reserve = f"{t.reserve_bytes / 2**30:g} GiB"
    table = FitTable(
        [Column("fits on", "left", text=True), Column("memory"), Column("largest batch")],
        title=f"largest batch per device ({reserve} reserved for the CUDA context and workspaces)",
    )
    if t.max_batch_fit:
        table.caption = f"largest batch: {t.max_batch_fit}"
    for label, batch in t.cost.max_batch.items():
        table.add_row(label, fmt.memory(t.memories[label]), str(batch) if batch else "none")
    return table


def train_bench_table(results: Sequence[TrainBenchResult]) -> FitTable:
    """Timed training steps: median and spread, images/s and achieved training GFLOP/s."""
    first = results[0].timing if results else None
    where = f" on {first.device_name}, {first.threads} threads" if first else ""
    table = FitTable(
        [
            Column("model", "left", text=True),
            *(Column(h) for h in ("res", "batch", "dtype", "step ms", "IQR", "img/s", "GFLOP/s")),
        ],
        title=f"training step (forward + backward + optimizer){where}",
    )
    for r in results:
        c, s = r.timing.config, r.timing.summary
        table.add_row(
            r.name, size_label(r.img_size), str(c.batch), c.dtype, fmt.ms(s.median_ms),
            fmt.pct(s.iqr_ratio), fmt.rate(r.images_per_s), fmt.rate(r.gmacs_per_s),
        )  # fmt: skip
    return table


def train_bench_split(results: Sequence[TrainBenchResult]) -> FitTable | None:
    """The backbone / neck / head split of each timed task model's step (``bench --train
    --task``): each part (and what it is), its params and the step's analytic training GFLOPs
    in it; None when no result is a task model."""
    if all(r.task is None for r in results):
        return None
    table = FitTable(
        [
            Column("model", "left", text=True),
            Column("res"),
            Column("batch"),
            Column("part", "left", text=True),
            *(Column(h) for h in ("params", "training GFLOPs", "share")),
        ],
        title="task split of the timed step (analytic training GFLOPs, whole batch)",
    )
    for r in results:
        if r.task is None:
            continue
        first = (r.name, size_label(r.img_size), str(r.timing.config.batch))
        for i, p in enumerate(r.task.parts):
            table.add_row(
                *(first if i == 0 else ("", "", "")), f"{p.part}: {p.name}", fmt.params_m(p.params),
                fmt.gflops(p.train_macs), fmt.pct(p.train_macs_share),
            )  # fmt: skip
    return table
