"""How fast hirisearch counts: analytic configurations per second, and seconds per model of the
meta-device traced count against an eager fvcore count, in one run, with the ratios.

    python benchmarks/cost_speed.py [--configs 5000] [--sizes 224 448 1024]

Targets (issue 2): analytic >= 5,000 configurations/s on one core; meta-traced count <= 1 s at 1024;
both >= 10x faster than eager fvcore.
"""

from __future__ import annotations

import argparse
import random
import time
from functools import partial

import torch
import yaml
from rich.console import Console
from rich.table import Table

from hirisearch.cost.counters import count_traced, cross_check
from hirisearch.models import get_family
from hirisearch.spec import parse_spec
from tests.conftest import SPECS

FAMILY = get_family("hiri_vit")
BASE = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())


def random_config(rng: random.Random) -> dict:
    d = dict(BASE)
    dims = [rng.choice([16, 24, 32, 48]), rng.choice([48, 64, 96]), rng.choice([96, 128, 192])]
    dims += [rng.choice([256, 320, 384]), rng.choice([384, 448, 512])]
    heads = [0, 0, dims[2] // 32, dims[3] // 32, dims[4] // 32]
    d.update(
        depths=[
            rng.randint(1, 3),
            rng.randint(1, 4),
            rng.randint(2, 6),
            rng.randint(4, 14),
            rng.randint(2, 4),
        ],
        dims=dims,
        num_heads=heads,
        mlp_ratios=[4, 4, rng.choice([4, 6, 8]), rng.choice([3, 4]), rng.choice([3, 4])],
        sr_ratios=[1, 1, rng.choice([1, 2]), 1, 1],
        img_size=rng.choice([384, 448, 512]),
    )
    return d


def analytic_rate(n: int, seed: int = 0) -> tuple[float, float]:
    """(configs/s validate+plan+cost, configs/s plan+cost) over ``n`` random configurations."""
    rng = random.Random(seed)
    configs = [random_config(rng) for _ in range(n)]
    t0 = time.perf_counter()
    specs = [parse_spec(c) for c in configs]
    t1 = time.perf_counter()
    for s in specs:
        FAMILY.cost(FAMILY.plan(s)).total.macs  # noqa: B018
    t2 = time.perf_counter()
    return n / (t2 - t0), n / (t2 - t1)


def traced_vs_fvcore(size: int) -> tuple[float, float, float]:
    """(meta seconds, fvcore eager seconds, GMACs) for HIRI-ViT-S at ``size``."""
    spec = parse_spec(BASE)
    plan = FAMILY.plan(spec, size)
    build = partial(FAMILY.build, plan)
    count_traced(build, plan.input_shape)  # warm the dispatcher caches once
    t0 = time.perf_counter()
    tc = count_traced(build, plan.input_shape)
    meta = time.perf_counter() - t0
    model = build(device="cpu")
    t0 = time.perf_counter()
    cross_check("fvcore", model, plan.input_shape)
    eager = time.perf_counter() - t0
    return meta, eager, tc.total.macs / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=5000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 448, 1024])
    args = ap.parse_args()
    torch.set_num_threads(1)
    console = Console()
    full, cost_only = analytic_rate(args.configs)
    t = Table(title=f"analytic cost, {args.configs} random HIRI-ViT configurations, 1 thread")
    for c in ("measure", "configs/s", "us/config", "target"):
        t.add_column(c, justify="right" if c != "measure" else "left")
    t.add_row("validate + plan + cost", f"{full:,.0f}", f"{1e6 / full:.0f}", ">= 5,000/s")
    t.add_row("plan + cost", f"{cost_only:,.0f}", f"{1e6 / cost_only:.0f}", "")
    console.print(t)
    t = Table(title="HIRI-ViT-S: meta-device traced count vs eager fvcore count (CPU, batch 1)")
    for c in (
        "input",
        "GMACs",
        "meta traced s",
        "fvcore eager s",
        "fvcore / meta",
        "analytic s",
        "fvcore / analytic",
    ):
        t.add_column(c, justify="right")
    for size in args.sizes:
        meta, eager, g = traced_vs_fvcore(size)
        t.add_row(
            f"{size}",
            f"{g:.3f}",
            f"{meta:.3f}",
            f"{eager:.2f}",
            f"{eager / meta:.1f}x",
            f"{1 / full:.6f}",
            f"{eager * full:,.0f}x",
        )
    console.print(t)
    console.print(
        "targets: meta traced <= 1 s at 1024; meta and analytic >= 10x faster than eager fvcore"
    )


if __name__ == "__main__":
    main()
