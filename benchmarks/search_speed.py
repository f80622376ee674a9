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


def timed_search(space: SearchSpace, strategy: str, trials: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        opts = SearchOptions(out=Path(d) / "run", trials=trials, study="bench", verify=False)
        start = time.perf_counter()
        result = run_search(_with(space, strategy=strategy), opts)
        elapsed = time.perf_counter() - start
    assert result.complete == trials
    return elapsed


def grid_rate(space: SearchSpace, count: int) -> tuple[int, float]:
    """Configurations/s of the grid's analytic evaluation over the first ``count`` axes values."""
    axes, size = [], 1
    for a in space.axes:  # a sub-grid of about ``count`` configurations (later axes at the base)
        n = len(a.values())
        if size * n > count:
            continue
        axes.append(a)
        size *= n
    sub = _with(space, axes=tuple(axes), strategy="grid")
    grid_evaluate(sub)  # warm the layer caches, as any second pass over a space is
    rows, rate = grid_evaluate(sub)
    return len(rows), rate


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
        s = timed_search(space, strategy, n)
        target = "2,000 trials <= 60 s" if strategy == "tpe" else "-"
        ratio = f"{60 / s * n / 2000:.2f}x" if strategy == "tpe" else "-"
        rows.append(
            (
                f"{strategy} search, SQLite, gmacs budget",
                f"{n} trials in {s:.1f} s",
                f"{n / s:,.0f} trials/s",
                target,
                ratio,
            )
        )
    n, rate = grid_rate(space, args.grid)
    rows.append(
        (
            "grid, analytic cost",
            f"{n:,} configurations",
            f"{rate:,.0f} configs/s",
            ">= 10,000 configs/s",
            f"{rate / 10000:.2f}x",
        )
    )
    t = Table(
        title=f"search speed ({SPACE.name}; {cores} cores, load average {load:.1f})",
        title_justify="left",
    )
    for col in ("what", "work", "rate", "target", "vs target"):
        t.add_column(col, justify="right" if col != "what" else "left")
    for r in rows:
        t.add_row(*r)
    console.print(t)


if __name__ == "__main__":
    main()
