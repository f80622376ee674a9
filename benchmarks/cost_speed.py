"""How fast hirisearch counts: analytic configurations per second, and seconds per model of the
meta-device traced count against an eager fvcore count, in one run, with the ratios.

    python benchmarks/cost_speed.py [--configs 5000] [--sizes 224 448 1024] [--repeats 5]

Targets (issue 2): analytic >= 5,000 configurations/s on one core; meta-traced count <= 1 s at 1024;
both >= 10x faster than eager fvcore.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import yaml
from rich.console import Console
from rich.table import Table

from hirisearch.cost.counters import count_module, count_traced, cross_check
from hirisearch.cost.meta import MetaBuild
from hirisearch.models import get_family
from hirisearch.spec import parse_spec
from tests.conftest import SPECS

FAMILY = get_family("hiri_vit")
BASE = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())


def random_config(rng: random.Random) -> dict:
    d = dict(BASE)
    dims = [rng.choice([16, 24, 32, 48]), rng.choice([48, 64, 96]), rng.choice([96, 128, 192])]
    dims += [rng.choice([256, 320, 384]), rng.choice([384, 448, 512])]
    num_heads = [0, 0, dims[2] // 32, dims[3] // 32, dims[4] // 32]
    d.update(
        depths=[
            rng.randint(1, 3),
            rng.randint(1, 4),
            rng.randint(2, 6),
            rng.randint(4, 14),
            rng.randint(2, 4),
        ],
        dims=dims,
        num_heads=num_heads,
        mlp_ratios=[4, 4, rng.choice([4, 6, 8]), rng.choice([3, 4]), rng.choice([3, 4])],
        sr_ratios=[1, 1, rng.choice([1, 2]), 1, 1],
        img_size=rng.choice([384, 448, 512]),
    )
    return d


def analytic_rate(n: int, seed: int = 0, repeats: int = 5) -> tuple[float, float]:
    """(configs/s validate+plan+cost, configs/s plan+cost): the median of ``repeats`` passes
    over ``n`` random configurations."""
    rng = random.Random(seed)
    configs = [random_config(rng) for _ in range(n)]
    full, cost_only = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        specs = [parse_spec(c) for c in configs]
        t1 = time.perf_counter()
        for s in specs:
            FAMILY.cost(FAMILY.plan(s)).total.macs  # noqa: B018
        t2 = time.perf_counter()
        full.append(n / (t2 - t0))
        cost_only.append(n / (t2 - t1))
    return statistics.median(full), statistics.median(cost_only)


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@dataclass(frozen=True)
class TracedTimes:
    """Seconds per model for HIRI-ViT-S at one input size (medians)."""

    gmacs: float
    meta: float  # spec -> number: built on meta (MetaBuild) and counted, each block once
    meta_count: float  # the count alone, on a meta model already built
    meta_full: float  # built on meta and counted with every block traced (no replay)
    fvcore: float  # the count alone, on a CPU model already built
    fvcore_build: float  # building the CPU model fvcore needs (random initialisation)

    @property
    def fvcore_total(self) -> float:
        return self.fvcore + self.fvcore_build


def traced_vs_fvcore(size: int, repeats: int) -> TracedTimes:
    """Medians of ``repeats`` runs, after one warm-up run of each (torch's one-time dispatcher
    set-up, fvcore's JIT tracer)."""
    spec = parse_spec(BASE)
    plan = FAMILY.plan(spec, size)
    build = partial(FAMILY.build, plan)
    tc = count_traced(build, plan.input_shape)
    meta = _median_seconds(lambda: count_traced(build, plan.input_shape), repeats)
    with MetaBuild():
        meta_model = build(device="meta")
    meta_count = _median_seconds(lambda: count_module(meta_model, plan.input_shape), repeats)

    def full_trace() -> None:
        with MetaBuild():
            model = build(device="meta")
        count_module(model, plan.input_shape, replay=False)

    full_trace()
    meta_full = _median_seconds(full_trace, repeats)
    fvcore_build = _median_seconds(lambda: build(device="cpu"), repeats)
    model = build(device="cpu")
    cross_check("fvcore", model, plan.input_shape)
    eager = _median_seconds(lambda: cross_check("fvcore", model, plan.input_shape), repeats)
    return TracedTimes(tc.total.macs / 1e9, meta, meta_count, meta_full, eager, fvcore_build)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=5000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 448, 1024])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    console = Console(width=150)
    full, cost_only = analytic_rate(args.configs, repeats=args.repeats)
    t = Table(
        title=f"analytic cost, {args.configs} random HIRI-ViT configurations, 1 thread, "
        f"median of {args.repeats} passes"
    )
    for c in ("measure", "configs/s", "us/config", "target"):
        t.add_column(c, justify="right" if c != "measure" else "left")
    t.add_row("validate + plan + cost", f"{full:,.0f}", f"{1e6 / full:.0f}", ">= 5,000/s")
    t.add_row("plan + cost", f"{cost_only:,.0f}", f"{1e6 / cost_only:.0f}", "")
    console.print(t)
    t = Table(
        title=f"HIRI-ViT-S: seconds per model, meta-device traced count vs eager fvcore count "
        f"(CPU, 1 thread, batch 1, median of {args.repeats})"
    )
    cols = (
        "input",
        "GMACs",
        "meta: build + count",
        "fvcore: build + count",
        "ratio",
        "meta: count",
        "fvcore: count",
        "ratio",
        "no replay",
        "fvcore / analytic",
    )
    for c in cols:
        t.add_column(c, justify="right")
    for size in args.sizes:
        r = traced_vs_fvcore(size, args.repeats)
        t.add_row(
            f"{size}",
            f"{r.gmacs:.3f}",
            f"{r.meta:.3f}",
            f"{r.fvcore_total:.2f}",
            _ratio(r.fvcore_total / r.meta),
            f"{r.meta_count:.3f}",
            f"{r.fvcore:.2f}",
            _ratio(r.fvcore / r.meta_count),
            f"{r.meta_full:.3f}",
            _ratio(r.fvcore_total * full),
        )
    console.print(t)
    console.print(
        "build + count: from the spec to the number (ours builds on meta, fvcore needs the model "
        "built and randomly initialised on the CPU); count: the model already built; no replay: "
        "build + count with every block traced (hirisearch.cost.replay off); fvcore / analytic: "
        "fvcore's build + count against one validate + plan + cost"
    )
    console.print(
        "targets: meta traced <= 1 s at 1024; meta and analytic >= 10x faster than eager fvcore "
        "(ratio marked * where below 10x)"
    )


def _ratio(r: float) -> str:
    return f"{r:,.1f}x" + ("" if r >= 10 else " *")


if __name__ == "__main__":
    main()
