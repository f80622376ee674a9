"""Training memory: analytic, simulated and measured peaks side by side, with their ratios, and the
analytic model's speed, in one run.

    python benchmarks/train_memory.py [--measure none|small|all] [--sizes 224 448]
                                      [--batches 2 8] [--dtypes fp32 bf16] [--configs 20000]

One table: every family (its smallest shipped spec; PIIP at its classification spec's own branch
sizes) at each size, batch and dtype, AdamW, CPU semantics (the device measured here):
**analytic** (the training twin, no torch), **simulated** (a step run on the meta device, every
live tensor tracked), **measured** (a real step on this CPU: the peak resident growth of a fresh
process with large allocations returned to the OS; ``--measure small`` measures the first size
and batch in fp32 only, ``all`` every row, ``none`` none), and the ratios analytic/simulated and
simulated/measured. Then the analytic model's speed: configurations per second on a model whose
twin has run (batch, dtype, optimizer, checkpointing, sharding drawn at random), and new models
per second (random HIRI-ViT specs: plan, cost tree, twin, memory model and one configuration).

Targets (issue 22): analytic within 5% of simulated; simulated within 10% of measured on the CPU;
at least 20,000 configurations/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hirisearch.models import get_family  # noqa: E402
from hirisearch.models.resolution import size_label  # noqa: E402
from hirisearch.spec import load_spec, parse_spec  # noqa: E402
from hirisearch.train.config import TrainConfig  # noqa: E402
from hirisearch.train.cost import TrainModel  # noqa: E402
from hirisearch.train.measure import measure_train_peak  # noqa: E402
from hirisearch.train.simulate import simulate_train_peak  # noqa: E402

SPECS = ROOT / "specs"
FAMILIES = {
    "ViT (DeiT-T)": SPECS / "deit" / "t.yaml",
    "Swin-T": SPECS / "swin" / "t.yaml",
    "ResFormer-T": SPECS / "resformer" / "t.yaml",
    "HIRI-ViT-S": SPECS / "hiri_vit" / "s.yaml",
    "HRViT-b1": SPECS / "hrvit" / "b1.yaml",
    "PIIP-TSB": SPECS / "piip" / "tsb_cls_368.yaml",
}
MIB = 2**20


def _row(console, table, name, path, size, batch, dtype, measure) -> tuple[float, float | None]:
    spec = load_spec(path)
    family = get_family(spec.family)
    plan = family.plan(spec, None if spec.family == "piip" else size)
    build = partial(family.build, plan)
    config = TrainConfig(batch=batch, dtype=dtype, device="cpu")
    analytic = TrainModel.of(family, plan).cost(config).memory.peak
    sim = simulate_train_peak(build, plan.input_shape, config).peak
    measured = measure_train_peak(build, plan.input_shape, config).peak if measure else None
    table.add_row(
        name,
        size_label(plan.img_size),
        str(batch),
        dtype,
        f"{analytic / MIB:,.1f}",
        f"{sim / MIB:,.1f}",
        "" if measured is None else f"{measured / MIB:,.1f}",
        f"{analytic / sim:.3f}",
        "" if measured is None else f"{sim / measured:.3f}",
    )
    console.print(f"  {name} {size_label(plan.img_size)} b{batch} {dtype}: done", style="dim")
    return analytic / sim, None if measured is None else sim / measured


def _config_rate(n: int) -> float:
    spec = load_spec(FAMILIES["HIRI-ViT-S"])
    family = get_family(spec.family)
    model = TrainModel.of(family, family.plan(spec, 448))
    rng = random.Random(0)
    configs = [
        TrainConfig(
            batch=rng.randint(1, 256),
            dtype=rng.choice(["fp32", "bf16", "fp16"]),
            optimizer=rng.choice(["adamw", "sgd", "none"]),
            checkpoint=rng.choice(["none", "stages", "blocks"]),
            shard=rng.choice([1, 2, 8]),
            device=rng.choice(["cpu", "cuda"]),
        )
        for _ in range(n)
    ]
    for c in configs[:50]:  # the twin runs once per checkpointing mode
        model.cost(c)
    start = time.process_time()
    for c in configs:
        model.cost(c)
    return n / (time.process_time() - start)


def _model_rate(n: int) -> float:
    import yaml

    base = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())
    family = get_family("hiri_vit")
    rng = random.Random(0)
    specs = []
    for i in range(n):
        d = dict(base, name=f"r{i}")
        d["depths"] = [
            rng.randint(1, 3),
            rng.randint(1, 4),
            rng.randint(2, 6),
            rng.randint(4, 14),
            rng.randint(2, 4),
        ]
        d["img_size"] = rng.choice([384, 448, 512])
        specs.append(parse_spec(d))
    config = TrainConfig(batch=32, dtype="bf16")
    start = time.process_time()
    for s in specs:
        plan = family.plan(s)
        TrainModel(family.cost(plan), plan, family.train).cost(config)
    return n / (time.process_time() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measure", choices=["none", "small", "all"], default="small")
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    ap.add_argument("--batches", type=int, nargs="+", default=[2, 8])
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--configs", type=int, default=20000)
    ap.add_argument("--families", nargs="+", default=list(FAMILIES))
    args = ap.parse_args()
    console = Console(width=120)
    table = Table(
        title="Peak training memory (MiB), AdamW, CPU: analytic vs simulated (meta) vs measured"
    )
    for c in ("model", "input", "batch", "dtype", "analytic", "simulated", "measured"):
        table.add_column(c, justify="left" if c == "model" else "right")
    table.add_column("analytic / simulated", justify="right")
    table.add_column("simulated / measured", justify="right")
    worst_a, worst_m = 0.0, 0.0
    for name in args.families:
        path = FAMILIES[name]
        sizes = args.sizes[:1] if "piip" in str(path) else args.sizes
        for size in sizes:
            for batch in args.batches:
                for dtype in args.dtypes:
                    first = size == sizes[0] and batch == args.batches[0] and dtype == "fp32"
                    measure = args.measure == "all" or (args.measure == "small" and first)
                    a, m = _row(console, table, name, path, size, batch, dtype, measure)
                    worst_a = max(worst_a, abs(a - 1))
                    worst_m = max(worst_m, abs(m - 1)) if m is not None else worst_m
    console.print(table)
    console.print(
        f"largest deviation: analytic vs simulated {worst_a:.2%} (target 5%); simulated vs "
        f"measured {worst_m:.2%} (target 10%)"
    )
    speed = Table(title="Analytic training model speed (CPU time, one core)")
    speed.add_column("measure")
    speed.add_column("per second", justify="right")
    speed.add_column("target", justify="right")
    speed.add_row("configurations of one model", f"{_config_rate(args.configs):,.0f}", ">= 20,000")
    speed.add_row(
        "new models (plan + tree + twin + one configuration)", f"{_model_rate(500):,.0f}", ""
    )
    console.print(speed)


if __name__ == "__main__":
    main()
