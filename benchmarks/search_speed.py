"""Search speed on the HIRI-ViT space: random and TPE trials per second with SQLite storage, and
configurations per second of the exhaustive grid mode. Prints a table with the targets.

    python benchmarks/search_speed.py [--tpe-trials 2000] [--random-trials 2000] [--grid 20000]

Targets (issue 6): 2,000 TPE trials with a GFLOPs budget in <= 60 s on 2 cores; the grid's analytic
evaluation >= 10,000 configurations/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hirisearch.search.run import SearchOptions, grid_evaluate, run_search
from hirisearch.search.space import SearchSpace, load_space

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "specs" / "search" / "hiri_vit_5g.yaml"


def _with(space: SearchSpace, **kw: object) -> SearchSpace:
    fields = {f: getattr(space, f) for f in SearchSpace.__dataclass_fields__}
    return SearchSpace(**{**fields, **kw})  # type: ignore[arg-type]


def timed_search(space: SearchSpace, strategy: str, trials: int) -> tuple[float, float]:
    """Wall and CPU seconds of a search of ``trials`` trials (CPU time: this process only; the
    machine may be shared, so wall time alone can mislead)."""
    with tempfile.TemporaryDirectory() as d:
        opts = SearchOptions(out=Path(d) / "run", trials=trials, study="bench", verify=False)
        start, cpu = time.perf_counter(), time.process_time()
        result = run_search(_with(space, strategy=strategy), opts)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert result.complete == trials
    return elapsed, cpu


def grid_rate(space: SearchSpace, count: int) -> tuple[int, float, float]:
    """Configurations/s (by wall and by CPU time) of the grid's analytic evaluation over a
    sub-grid of about ``count`` configurations."""
    axes, size = [], 1
    for a in space.axes:  # a sub-grid of about ``count`` configurations (later axes at the base)
        n = len(a.values())
        if size * n > count:
            continue
        axes.append(a)
        size *= n
    sub = _with(space, axes=tuple(axes), strategy="grid")
    grid_evaluate(sub)  # warm the layer caches, as any second pass over a space is
    cpu = time.process_time()
    rows, rate = grid_evaluate(sub)
    cpu = time.process_time() - cpu
    return len(rows), rate, len(rows) / cpu if cpu > 0 else float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tpe-trials", type=int, default=2000)
    ap.add_argument("--random-trials", type=int, default=2000)
    ap.add_argument("--grid", type=int, default=20000)
    args = ap.parse_args()
    space = load_space(SPACE)
    console = Console()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for strategy, n in (("random", args.random_trials), ("tpe", args.tpe_trials)):
        s, cpu = timed_search(space, strategy, n)
        target = "2,000 trials <= 60 s" if strategy == "tpe" else "-"
        ratio = f"{60 / s * n / 2000:.2f}x" if strategy == "tpe" else "-"
        rows.append(
            (
                f"{strategy} search, SQLite, gmacs budget",
                f"{n} trials in {s:.1f} s",
                f"{n / s:,.0f} trials/s",
                f"{cpu:.1f} s ({n / cpu:,.0f} trials/s)",
                target,
                ratio,
            )
        )
    n, rate, cpu_rate = grid_rate(space, args.grid)
    rows.append(
        (
            "grid, analytic cost",
            f"{n:,} configurations",
            f"{rate:,.0f} configs/s",
            f"{cpu_rate:,.0f} configs/s",
            ">= 10,000 configs/s",
            f"{rate / 10000:.2f}x",
        )
    )
    t = Table(
        title=f"search speed ({SPACE.name}; {cores} cores, load average {load:.1f})",
        title_justify="left",
    )
    for col in ("what", "work", "rate", "CPU time (rate)", "target", "vs target"):
        t.add_column(col, justify="right" if col != "what" else "left")
    for r in rows:
        t.add_row(*r)
    console.print(t)


if __name__ == "__main__":
    main()
