"""Terminal tables at 80 columns (the width Rich uses for a pipe or a log) read well: no header or
value cut to an ellipsis, every number whole on one line; and wider, they use the width: one-line
headers, one line per row. Every table of profile, compare, sweep, bench and calibrate."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console

from hirisearch.latency.interval import Prediction
from hirisearch.latency.predict import CATEGORIES, Calibration
from hirisearch.latency.result import BenchResult, Environment
from hirisearch.latency.stats import Summary
from hirisearch.ops.compare import compare_targets
from hirisearch.ops.profile import profile_target
from hirisearch.ops.sweep import sweep_targets
from hirisearch.ops.train import TrainBenchResult
from hirisearch.report.terminal.bench import bench_table, calibration_table
from hirisearch.report.terminal.compare import compare_table
from hirisearch.report.terminal.fit import Column, FitTable
from hirisearch.report.terminal.profile import profile_stages, profile_summary
from hirisearch.report.terminal.sweep import sweep_tables
from hirisearch.report.terminal.train import train_bench_split, train_bench_table
from hirisearch.targets import resolve
from hirisearch.tasks.split import TrainPartShare, TrainSplit
from hirisearch.train.config import TrainConfig
from hirisearch.train.timing import TrainTiming
from tests.conftest import SPECS

ELLIPSIS = "…"
NAMES = ("s.yaml", "swin/t.yaml", "deit/s.yaml", "piip/tsb_det_1568_1120_672.yaml")


def _targets() -> list:
    return [resolve(str(SPECS / n)) for n in NAMES]


def _bench(rows: list[tuple[str, int, int, float]] | None = None) -> list[BenchResult]:
    """Measurements as ``bench`` makes them (default: the sizes of the issue's example)."""
    env = Environment("cpu", "AMD EPYC 7B13", "2.5.1", 2, "fp32", False, False, True)
    rows = rows or [
        ("HIRI-ViT-S", 448, 1, 46.12), ("HIRI-ViT-S", 448, 8, 301.5), ("Swin-T", 448, 1, 88.73),
        ("DeiT-S", 448, 1, 95.02),
    ]  # fmt: skip
    out = []
    for name, size, batch, ms in rows:
        gmacs = 4.965 * batch
        out.append(
            BenchResult(
                spec=name, name=name, family="f", img_size=size, batch=batch, status="ok",
                macs=int(gmacs * 1e9), latency_ms=ms, iqr_ms=ms / 9, p90_ms=ms * 1.1,
                throughput=batch / ms * 1e3, gmacs_per_s=gmacs / ms * 1e3,
                peak_mem_bytes=143 * 2**20, mem_est_bytes=212 * 2**20, predicted_ms=ms * 0.9,
                predicted_interval_ms=(ms * 0.8, ms), predicted_coverage=0.9, env=env,
            )
        )  # fmt: skip
    oom = BenchResult("x", "HIRI-ViT-L", "f", 2048, 64, "oom", 10**12, mem_est_bytes=2**38)
    return [*out, oom]


def _train_bench() -> list[TrainBenchResult]:
    """Timed training steps as ``bench --train --task`` makes them: a bare model, task models."""
    out = []
    for name, size, batch, ms, parts in [
        ("DeiT-S", 224, 8, 812.4, ()),
        ("Swin-T+ade-upernet", 512, 2, 21900.2, (("backbone", "Swin-T"), ("head", "upernet"))),
        ("PIIP-TSB-det-1568+coco-maskrcnn", (800, 1280), 16, 1234567.8,
         (("backbone", "PIIP-TSB-det-1568"), ("neck", "fpn"), ("head", "mask_rcnn"))),
    ]:  # fmt: skip
        timing = TrainTiming(
            TrainConfig(batch=batch), Summary(ms, ms / 30, ms * 1.1, ms, ms * 0.9, 5), "cpu",
            "AMD EPYC 7B13", 2,
        )  # fmt: skip
        macs = int(3.4e12 * batch)
        shares = tuple(
            TrainPartShare(p, what, 27_514_938, macs // len(parts), 1 / len(parts))
            for p, what in parts
        )
        task = TrainSplit("t", (512, 512), "96@128x128/4", shares) if parts else None
        out.append(TrainBenchResult(name, name, size, timing, macs, task))
    return out


#: Large numbers and a long name: narrower than 80 columns can hold as a table.
WIDE_BENCH = [
    ("HIRI-ViT-S", 448, 64, 1234.56), ("PIIP-TSB-det-1568", 1568, 1, 25.33),
    ("timm:swin_tiny_patch4_window7_224", 1024, 8, 3.21),
]  # fmt: skip


def _predict(target, img_size, batch):  # noqa: ANN001, ANN202
    """A prediction as ``--predict`` makes them: ms growing with the MACs, a 90% interval."""
    ms = target.at(img_size).tree.total.macs * batch / 3e7
    return Prediction(ms, ms * 0.88, ms * 1.13, 0.9, "held-out test")


def _calibration() -> Calibration:
    coeffs = {c: (1e-9 * (i + 1), 1e-7, 0.0, 0.012) for i, c in enumerate(CATEGORIES)}
    return Calibration("cpu", "AMD EPYC 7B13", "2.5.1", 2, "now", coeffs, scales={"conv": 1.25})


TABLES: dict[str, Callable[[], list[FitTable]]] = {
    "profile summary": lambda: [profile_summary(profile_target(_targets()[0], 448, traced=False))],
    "profile stages": lambda: [
        profile_stages(profile_target(_targets()[3], 1568, traced=False, depth=3), rows=True)
    ],
    "compare": lambda: [compare_table(compare_targets(_targets(), [224, 448], traced=False))],
    "sweep": lambda: [
        t
        for t in sweep_tables(sweep_targets(_targets(), list(range(224, 449, 32))))
        if isinstance(t, FitTable)
    ],
    "compare predicted": lambda: [
        compare_table(compare_targets(_targets(), [224, 448], traced=False, predict=_predict))
    ],
    "sweep predicted": lambda: [
        t
        for t in sweep_tables(
            sweep_targets(_targets(), list(range(224, 449, 32)), predict=_predict)
        )
        if isinstance(t, FitTable)
    ],
    "bench": lambda: [bench_table(_bench()), bench_table(_bench(), predicted=True)],
    "calibrate": lambda: [calibration_table(_calibration())],
    "bench train": lambda: [train_bench_table(_train_bench()), train_bench_split(_train_bench())],
}


def _render(table: FitTable, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(table)
    return console.export_text()


def _numbers(table: FitTable, shown: list[Column]) -> list[str]:
    """The cells of the columns shown that hold numbers (never wrapped)."""
    cells = []
    for row, _ in table.rows:
        for cell, col in zip(row, table.columns, strict=True):
            if not col.text and col in shown:
                cells.append(cell if isinstance(cell, str) else cell.plain)
    return [c for c in cells if c]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_reads_well_at_80_columns(name: str) -> None:
    for table in TABLES[name]():
        text = _render(table, 80)
        assert ELLIPSIS not in text, f"{name}: cut at 80 columns:\n{text}"
        assert max(len(line) for line in text.splitlines()) <= 80
        lines = text.splitlines()
        left_out = next((ln for ln in lines if ln.startswith("left out at this width: ")), "")
        shown = [c for c in table.columns if c.header not in left_out]
        assert all(c.optional for c in table.columns if c not in shown)
        for cell in _numbers(table, shown):  # whole, on one line
            assert any(cell in line for line in lines), f"{name}: {cell!r} broken:\n{text}"
        for col in shown:
            for word in col.header.split():  # header words whole
                assert word in text, f"{name}: header word {word!r} broken:\n{text}"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_uses_a_wide_terminal(name: str) -> None:
    for table in TABLES[name]():
        text = _render(table, 250)
        lines = text.splitlines()
        header = next(ln for ln in lines if "┃" in ln)  # the boxed layout, headers on one line
        assert all(col.header in header for col in table.columns), text
        body = [ln for ln in lines if ln.startswith("│")]
        assert len(body) == table.row_count, text  # one line per row


def test_a_short_width_leaves_out_the_optional_columns_and_says_so() -> None:
    table = bench_table(_bench(WIDE_BENCH), predicted=True)
    text = _render(table, 80)
    assert ELLIPSIS not in text and "left out at this width: p90 ms, img/s, est. MiB" in text
    assert "1234.56" in text and "317.760" in text and "p90 ms" not in text.splitlines()[1]
    assert "p90 ms" in _render(table, 140).splitlines()[1]  # wider: every column


def test_narrower_than_any_table_each_row_is_a_block() -> None:
    table = bench_table(_bench(WIDE_BENCH), predicted=True)
    text = _render(table, 40)
    assert ELLIPSIS not in text and max(len(ln) for ln in text.splitlines()) <= 40
    assert "timm:swin_tiny_patch4_window7_224" in text and "latency ms 1234.56" in text
    assert "p90 ms 1358.02" in text and "predicted ms (90%)" in text
    assert "1111 (988-1235)" in text  # the prediction and its interval, compactly


def test_a_row_must_match_the_columns() -> None:
    t = FitTable([Column("a"), Column("b")])
    with pytest.raises(ValueError, match=r"`len\(cells\) == len\(columns\)` must hold"):
        t.add_row("1")
