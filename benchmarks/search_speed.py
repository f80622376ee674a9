"""Search speed: the exact mode's configurations per second (params, GFLOPs, activations and
predicted latency), the exact constrained front of the shipped ``hiri_vit_5g`` space end to end, and
random / TPE trials per second. Prints a table with the targets and the ratio against each.

    python benchmarks/search_speed.py [--tpe-trials 2000] [--random-trials 2000]

Needs a CPU calibration (``hirisearch calibrate --device cpu``). Targets (issue 13): exact mode
>= 1e6 configurations/s on one core; the exact front of hiri_vit_5g <= 15 s end to end (no traced
re-count); 2,000 TPE trials <= 30 s. The TPE row is split into the CPU time of Optuna's TPE
sampler (``sample_relative``, which grows with the number of trials) and the rest (evaluation,
journal writes, the engine).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import optuna
from rich.console import Console
from rich.table import Table

from hirisearch.ops.search.enumeration import sweep
from hirisearch.ops.search.exact import Model
from hirisearch.ops.search.metrics import load_space_calibration
from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from hirisearch.report.run.save import save_run

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "specs" / "search" / "hiri_vit_5g.yaml"


def exact_rate(space, cal) -> tuple[int, float]:  # noqa: ANN001
    """Configurations/s of the metric sweep alone (validity, the four metrics), tables filled."""
    model = Model(space, cal)
    sweep(model)  # fill the tables
    start = time.process_time()
    n = 0
    for _, digits, k in model.chunks():
        ok, _ = model.valid(digits, k)
        model.metrics([d[ok] for d in digits], int(ok.sum()))
        n += k
    return n, n / (time.process_time() - start)


class SamplerClock:
    """CPU seconds spent inside the TPE sampler's ``sample_relative`` (Optuna's own work)."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self._original = optuna.samplers.TPESampler.sample_relative

    def __enter__(self) -> SamplerClock:
        original, clock = self._original, self

        def timed(sampler, study, trial, search_space):  # noqa: ANN001, ANN202
            start = time.process_time()
            try:
                return original(sampler, study, trial, search_space)
            finally:
                clock.cpu += time.process_time() - start

        optuna.samplers.TPESampler.sample_relative = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        optuna.samplers.TPESampler.sample_relative = self._original  # type: ignore[method-assign]


def timed_run(space, trials: int) -> tuple[float, float]:  # noqa: ANN001
    with tempfile.TemporaryDirectory() as d:
        opts = SearchOptions(out=Path(d) / "run", trials=trials, study="bench", verify=False)
        start, cpu = time.perf_counter(), time.process_time()
        save_run(run_search(space, opts), opts.out)  # end to end: the run folder written too
        return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tpe-trials", type=int, default=2000)
    ap.add_argument("--random-trials", type=int, default=2000)
    args = ap.parse_args()
    space = load_space(SPACE)
    cal = load_space_calibration(space)
    load = os.getloadavg()[0]
    rows = []
    n, rate = exact_rate(space, cal)
    rows.append(("exact: metrics + validity", f"{n:,} configurations", f"{rate:,.0f}/s (CPU)",
                 ">= 1,000,000/s", f"{rate / 1e6:.2f}x"))  # fmt: skip
    wall, cpu = timed_run(space, 1)
    rows.append(("exact front of hiri_vit_5g, end to end", f"{wall:.1f} s wall, {cpu:.1f} s CPU",
                 "-", "<= 15 s", f"{15 / wall:.2f}x"))  # fmt: skip
    for strategy, k in (("random", args.random_trials), ("tpe", args.tpe_trials)):
        s = dataclasses.replace(space, strategy=strategy)
        with SamplerClock() as clock:
            wall, cpu = timed_run(s, k)
        target = f"{k:,} trials <= {30 * k / 2000:g} s" if strategy == "tpe" else "-"
        ratio = f"{30 * k / 2000 / wall:.2f}x" if strategy == "tpe" else "-"
        rows.append((f"{strategy}, journal storage", f"{k:,} trials in {wall:.1f} s",
                     f"{k / wall:,.0f}/s ({cpu:.1f} s CPU)", target, ratio))  # fmt: skip
        if strategy == "tpe":
            ours = cpu - clock.cpu
            rows.append(("  of which Optuna's TPE sampler", f"{clock.cpu:.1f} s CPU",
                         f"{100 * clock.cpu / cpu:.0f}% of the CPU", "-", "-"))  # fmt: skip
            rows.append(("  of which the rest (evaluation, journal, engine)", f"{ours:.1f} s CPU",
                         f"{1000 * ours / k:.2f} ms/trial", "-", "-"))  # fmt: skip
    t = Table(title=f"search speed ({SPACE.name}; load average {load:.1f})", title_justify="left")
    for col in ("what", "work", "rate", "target", "vs target"):
        t.add_column(col, justify="left" if col == "what" else "right")
    for r in rows:
        t.add_row(*r)
    Console().print(t)


if __name__ == "__main__":
    main()
