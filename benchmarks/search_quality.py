"""Search quality: the hypervolume of each trial strategy's constrained front as a share of the
exact front's (``strategy: exact``, every configuration of the space), after 100, 500 and 2,000
trials, on the shipped spaces.

    python benchmarks/search_quality.py [--spaces hiri_vit_5g swin_t_448 hrvit_b1]
        [--trials 100 500 2000] [--strategies random tpe nsga2 gp] [--seeds 1] [--gp-trials 100]

Each strategy runs once per seed up to the largest trial count through the search engine (an
in-memory study); the smaller counts are the same run's first trials, which is exactly what a run
of that many trials gives (the samplers depend on the history only). The front of the first k
trials is the non-dominated set of their feasible trials.

Hypervolume: objectives turned into "smaller is better" and normalised by the exact front's
ideal (0) and nadir (1) point per objective; reference point 1.1 in every objective; computed
exactly by a 2-D sweep (the shipped spaces have two objectives; more are refused). A share of
100% means the exact front was found. ``hiri_vit_5g`` needs a CPU calibration
(``hirisearch calibrate --device cpu``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
from rich.console import Console
from rich.table import Table

from hirisearch.ops.search import storage as st
from hirisearch.ops.search.engine import work_in_memory
from hirisearch.ops.search.enumeration import sweep
from hirisearch.ops.search.exact import Model
from hirisearch.ops.search.metrics import load_space_calibration
from hirisearch.ops.search.pareto import pareto_indices, to_minimise
from hirisearch.ops.search.space import load_space
from hirisearch.ops.search.strategies import make_sampler
from hirisearch.ops.search.types import SearchSpace

ROOT = Path(__file__).resolve().parent.parent
SPACES = ROOT / "specs" / "search"
#: Reference point of the normalised objectives (the exact front spans 0..1 in each).
REFERENCE = 1.1


def hypervolume_2d(points: np.ndarray, ref: float = REFERENCE) -> float:
    """Area dominated by ``points`` (n x 2, minimised) inside the box up to (ref, ref)."""
    pts = points[(points < ref).all(axis=1)]
    if not len(pts):
        return 0.0
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]  # by x, then y
    area, best_y = 0.0, ref
    for x, y in pts:
        if y < best_y:
            area += (ref - x) * (best_y - y)
            best_y = y
    return area


class Frame:
    """The normalisation of one space: the exact front's ideal and nadir points."""

    def __init__(self, exact_front: np.ndarray) -> None:
        self.ideal = exact_front.min(axis=0)
        span = exact_front.max(axis=0) - self.ideal
        self.span = np.where(span > 0, span, 1.0)
        self.exact = self.hv(exact_front)

    def hv(self, points: np.ndarray) -> float:
        if not len(points):
            return 0.0
        return hypervolume_2d((points - self.ideal) / self.span)


def exact_front(space: SearchSpace, cal: object) -> tuple[np.ndarray, int, float]:
    """The exact front (minimised), the space size, and the sweep's seconds."""
    start = time.perf_counter()
    found = sweep(Model(space, cal, seed=space.seed))
    directions = [o.direction for o in space.objectives]
    pts = np.array([to_minimise(p, directions) for p in found.front_points.tolist()])
    return pts, found.size, time.perf_counter() - start


def run_trials(space: SearchSpace, n: int, cal: object) -> tuple[list[tuple[int, tuple]], float]:
    """(number, minimised objectives) of every feasible trial of an ``n``-trial run; CPU s."""
    study = st.in_memory_study(space, make_sampler(space))
    start = time.process_time()
    work_in_memory(space, study, n, calibration=cal)
    cpu = time.process_time() - start
    directions = [o.direction for o in space.objectives]
    out = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs[st.ATTR]["feasible"] and all(math.isfinite(v) for v in t.values):
            out.append((t.number, to_minimise(t.values, directions)))
    return out, cpu


def front_of_first(trials: list[tuple[int, tuple]], k: int) -> np.ndarray:
    pts = [p for number, p in trials if number < k]
    return np.array([pts[i] for i in pareto_indices(pts)]) if pts else np.zeros((0, 2))


def missing_dependency(strategy: str, space: SearchSpace, cal: object) -> str | None:
    """Why a strategy's sampler cannot run here (a missing package), or None."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # not the failed trial's traceback
    warnings.filterwarnings("ignore", message="Clip non-finite")  # GP: invalid trials are inf
    try:
        s = dataclasses.replace(space, strategy=strategy, seed=0)
        # past the random start-up trials (GP: 10), so the model itself is fitted once
        work_in_memory(s, st.in_memory_study(s, make_sampler(s)), 12, calibration=cal)
    except ModuleNotFoundError as e:
        return f"needs {e.name} (not installed)"
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", nargs="+", default=["hiri_vit_5g", "swin_t_448", "hrvit_b1"])
    ap.add_argument("--trials", nargs="+", type=int, default=[100, 500, 2000])
    ap.add_argument("--strategies", nargs="+", default=["random", "tpe", "nsga2", "gp"])
    ap.add_argument("--seeds", type=int, default=1, help="runs per strategy (seeds 0..N-1)")
    ap.add_argument("--gp-trials", type=int, default=100, help="GP's largest count (slow)")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    counts = sorted(args.trials)
    table = Table(
        title=f"hypervolume share of the exact front (seeds: {args.seeds}; load {load:.1f})",
        title_justify="left",
    )
    table.add_column("space")
    table.add_column("strategy")
    for k in counts:
        table.add_column(f"{k:,} trials", justify="right")
    table.add_column("CPU s", justify="right")
    for name in args.spaces:
        space = load_space(SPACES / f"{name}.yaml")
        if len(space.objectives) != 2:
            raise SystemExit(f"{name}: the hypervolume here is 2-D, but the space has "
                             f"{len(space.objectives)} objectives")  # fmt: skip
        cal = load_space_calibration(space)
        front, size, secs = exact_front(space, cal)
        frame = Frame(front)
        table.add_row(name, f"exact ({size:,} configurations)",
                      *[f"100% ({len(front)} points)"] * len(counts), f"{secs:.1f}")  # fmt: skip
        for strategy in args.strategies:
            why = missing_dependency(strategy, space, cal)
            if why:
                table.add_row("", strategy, *[why] + ["-"] * (len(counts) - 1), "-")
                continue
            top = min(counts[-1], args.gp_trials) if strategy == "gp" else counts[-1]
            shares: dict[int, list[float]] = {k: [] for k in counts if k <= top}
            cpu = 0.0
            for seed in range(args.seeds):
                s = dataclasses.replace(space, strategy=strategy, seed=seed)
                trials, c = run_trials(s, top, cal)
                cpu += c
                for k in shares:
                    shares[k].append(frame.hv(front_of_first(trials, k)) / frame.exact)
            cells = [
                f"{100 * statistics.mean(shares[k]):.1f}%" if k in shares else "not run"
                for k in counts
            ]
            table.add_row("", strategy, *cells, f"{cpu / args.seeds:.1f}")
        table.add_section()
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
