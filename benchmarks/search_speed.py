"""Search speed, one table: the exact constrained fronts end to end (the 1.4 * 10^12-configuration
``hiri_vit_blocks`` section by section, ``hiri_vit_5g`` section by section and by enumeration),
the peak resident memory of each, enumeration's rate, random / TPE trials per second, and the
start-up of a traced ``hirisearch profile``. Prints the targets and the ratio against each.

    python benchmarks/search_speed.py [--tpe-trials 2000] [--random-trials 2000] [--no-trials]

Needs a CPU calibration (``hirisearch calibrate --device cpu``). Each exact search runs in a
fresh process (its peak resident memory is that process's): end to end is reading the space,
the search and writing the run folder (``results.json``, report, plots, front specs; no traced
re-count), without the interpreter's start. Targets (issue 26): the 10^12 space's front <= 10 s
(goal 2 s), ``hiri_vit_5g``'s <= 1 s, each below 2 GB; a traced profile within 1 s of
``import torch``. The TPE row is split into the CPU time of Optuna's TPE sampler
(``sample_relative``, which grows with the number of trials) and the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
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
SPACES = ROOT / "specs" / "search"
#: One exact search, end to end, in this process; prints its timings as JSON.
CHILD = """
import json, sys, tempfile, time
from pathlib import Path
start = time.perf_counter()
from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from hirisearch.report.run.save import save_run
import matplotlib.figure  # imported by any run folder's plots: counted with the imports
imported = time.perf_counter()
import dataclasses
space = load_space(sys.argv[1])
if sys.argv[2] != "auto":
    space = dataclasses.replace(space, exact_method=sys.argv[2])
t0, c0 = time.perf_counter(), time.process_time()
space = load_space(sys.argv[1]) if sys.argv[2] == "auto" else space  # reading it is timed too
with tempfile.TemporaryDirectory() as d:
    result = run_search(space, SearchOptions(out=Path(d) / "run", trials=1, verify=False))
    save_run(result, result.run_dir)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
x = result.exact
print(json.dumps({"wall": wall, "cpu": cpu, "imports": imported - start, "method": x["method"],
                  "front": x["front"], "configurations": x["configurations"]}))
"""


def exact_end_to_end(space: Path, method: str = "auto") -> dict:
    """One exact search in a fresh process: its timings and its peak resident memory."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(space), method], stdout=subprocess.PIPE, env=env
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{space.name} ({method}) failed")
    doc = json.loads(out.decode().strip().splitlines()[-1])
    doc["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return doc


def exact_rate(space, cal) -> tuple[int, float]:  # noqa: ANN001
    """Configurations/s of enumeration's metric sweep alone (validity, the four metrics)."""
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


def _wall(argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def profile_startup(repeats: int = 3) -> tuple[float, float]:
    """The best of ``repeats`` walls of ``import torch`` and of a traced profile at 448."""
    torch_s = min(_wall([sys.executable, "-c", "import torch"]) for _ in range(repeats))
    with tempfile.TemporaryDirectory() as d:
        argv = [sys.executable, "-m", "hirisearch", "profile", "specs/s.yaml", "--res", "448",
                "--out", d]  # fmt: skip
        profile_s = min(_wall(argv) for _ in range(repeats))
    return torch_s, profile_s


def exact_rows() -> list[tuple[str, ...]]:
    rows = []
    cases = (
        ("hiri_vit_blocks", "auto", 10.0, "<= 10 s (goal 2 s)"),
        ("hiri_vit_5g", "auto", 1.0, "<= 1 s"),
        ("hiri_vit_5g", "enumerate", None, "-"),
    )
    for name, method, target, words in cases:
        r = exact_end_to_end(SPACES / f"{name}.yaml", method)
        what = f"exact front of {name} ({r['method']}), end to end"
        work = f"{r['configurations']:,} configurations, front {r['front']}"
        ratio = f"{target / r['wall']:.2f}x" if target else "-"
        rows.append((what, work, f"{r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU", words, ratio))
        rows.append((f"  peak resident memory ({name}, {r['method']})", "-",
                     f"{r['peak_mb']:,.0f} MB", "< 2,048 MB",
                     f"{2048 / r['peak_mb']:.2f}x"))  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tpe-trials", type=int, default=2000)
    ap.add_argument("--random-trials", type=int, default=2000)
    ap.add_argument("--no-trials", action="store_true", help="leave out the random / TPE rows")
    args = ap.parse_args()
    space = load_space(SPACES / "hiri_vit_5g.yaml")
    cal = load_space_calibration(space)
    load = os.getloadavg()[0]
    rows = exact_rows()
    n, rate = exact_rate(space, cal)
    rows.append(("enumeration: metrics + validity", f"{n:,} configurations",
                 f"{rate:,.0f}/s (CPU)", ">= 1,000,000/s", f"{rate / 1e6:.2f}x"))  # fmt: skip
    torch_s, profile_s = profile_startup()
    rows.append(("traced profile specs/s.yaml --res 448", f"import torch: {torch_s:.2f} s",
                 f"{profile_s:.2f} s wall", f"<= {torch_s + 1:.2f} s (torch + 1 s)",
                 f"{(torch_s + 1) / profile_s:.2f}x"))  # fmt: skip
    for strategy, k in (("random", args.random_trials), ("tpe", args.tpe_trials)):
        if args.no_trials:
            break
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
    t = Table(title=f"search speed (load average {load:.1f})", title_justify="left")
    for col in ("what", "work", "time or rate", "target", "vs target"):
        t.add_column(col, justify="left" if col == "what" else "right")
    for r in rows:
        t.add_row(*r)
    Console(width=160).print(t)


if __name__ == "__main__":
    main()
