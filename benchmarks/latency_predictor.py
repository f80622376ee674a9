"""The calibrated latency predictor against measurement on random HIRI-ViT configurations (CPU).

Calibrates (operator micro-benchmarks + block glue fit), then for ``--configs`` random HIRI-ViT
configurations predicts the latency from the analytic cost tree and measures it, and prints the
Spearman rank correlation and the share of predictions within +-20%.
Targets (issue 5, CPU): Spearman >= 0.9 and >= 80% within +-20%.

On a machine shared with other work, use ``--threads 1 --clock cpu`` (process CPU time, for the
calibration and the measurements alike).

    PYTHONPATH=. python benchmarks/latency_predictor.py [--configs 24] [--threads 1] [--clock cpu]
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from hirisearch.latency.measure import time_callable
from hirisearch.latency.predictor import calibrate, predict_latency_ms
from hirisearch.latency.stats import spearman, summarize
from hirisearch.models.hiri_vit import FAMILY, HiriViTSpec

TARGET_SPEARMAN = 0.9
TARGET_WITHIN = 0.8


def random_spec(rng: random.Random, i: int) -> tuple[HiriViTSpec, int]:
    n_hr = rng.choice([1, 2, 2, 3])
    dims, d = [], rng.choice([16, 24, 32, 48])
    for _ in range(5):
        dims.append(d)
        d = int(d * rng.choice([1.5, 2, 2, 2.5]))
    dims = [max(32, round(x / 32) * 32) if s >= n_hr else x for s, x in enumerate(dims)]
    kinds = ["hr"] * n_hr + ["transformer"] * (5 - n_hr)
    size = rng.choice([160, 192, 224, 256, 288])
    spec = HiriViTSpec(
        family="hiri_vit",
        name=f"random-{i}",
        img_size=size,
        stem_chs=rng.choice([16, 24, 32]),
        block_types=tuple(kinds),
        depths=tuple(rng.randint(1, 4) for _ in range(5)),
        dims=tuple(dims),
        num_heads=tuple(0 if k == "hr" else d // 32 for k, d in zip(kinds, dims, strict=True)),
        mlp_ratios=tuple(rng.choice([2, 4]) if k == "hr" else rng.choice([4, 8]) for k in kinds),
        sr_ratios=tuple(
            1 if k == "hr" or s > 2 else rng.choice([1, 2]) for s, k in enumerate(kinds)
        ),
        head=rng.choice(["avg", "class_attn"]),
    )
    return spec, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=24)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--min-time", type=float, default=1.0, help="measuring seconds per config")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure every config once per round, round-robin (a burst of other work on a "
        "shared machine then hits one round of a config, not all of them)",
    )
    ap.add_argument(
        "--statistic",
        choices=("median", "min"),
        default="median",
        help="per-benchmark statistic, for the calibration and the measurements alike "
        "(min: the least disturbed run, for a shared machine)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")

    t0 = time.perf_counter()
    cal = calibrate(cpu, threads=args.threads, clock=args.clock, statistic=args.statistic)
    cal_s = time.perf_counter() - t0

    rng = random.Random(args.seed)
    configs = []
    for i in range(args.configs):
        spec, size = random_spec(rng, i)
        plan = FAMILY.plan(spec, size)
        tree = FAMILY.cost(plan)
        model = FAMILY.build(plan).eval()
        configs.append((spec, size, tree, model, torch.randn(1, *plan.input_shape)))
    runs: list[list[float]] = [[] for _ in configs]
    for _ in range(args.rounds):
        for (_, _, _, model, x), out in zip(configs, runs, strict=True):
            with torch.inference_mode():
                out.extend(
                    time_callable(
                        lambda model=model, x=x: model(x),
                        cpu,
                        warmup_s=0.1,
                        min_time_s=args.min_time / args.rounds,
                        clock=args.clock,
                    )
                )
    rows = []
    for (spec, size, tree, _, _), samples in zip(configs, runs, strict=True):
        summary = summarize(samples)
        ms = summary.min_ms if args.statistic == "min" else summary.median_ms
        rows.append((spec, size, tree.total.macs, predict_latency_ms(tree, cal), ms))

    print(
        f"CPU, {args.threads} thread(s), {args.clock} clock, {args.statistic} of runs "
        f"({args.rounds} rounds), batch 1, "
        "fp32; calibration took "
        f"{cal_s:.1f} s ({len(cal.samples)} samples)"
    )
    print(
        f"{'config':<10} {'res':>4} {'depths':<16} {'dims':<24} {'GFLOPs':>7} "
        f"{'predicted':>10} {'measured':>9} {'error':>7}"
    )
    for spec, size, macs, p, m in rows:
        print(
            f"{spec.name:<10} {size:>4} {str(spec.depths):<16} {str(spec.dims):<24} "
            f"{macs / 1e9:>7.3f} {p:>10.1f} {m:>9.1f} {p / m - 1:>+7.1%}"
        )
    rho = spearman([r[3] for r in rows], [r[4] for r in rows])
    within = sum(abs(r[3] / r[4] - 1) <= 0.2 for r in rows) / len(rows)
    rho_macs = spearman([r[2] for r in rows], [r[4] for r in rows])
    print(f"Spearman (predicted vs measured): {rho:.3f}  (GFLOPs vs measured: {rho_macs:.3f})")
    print(
        f"within +-20%: {within:.0%} ({sum(abs(r[3] / r[4] - 1) <= 0.2 for r in rows)}/{len(rows)})"
    )
    ok = rho >= TARGET_SPEARMAN and within >= TARGET_WITHIN
    print(
        f"targets: Spearman >= {TARGET_SPEARMAN}, >= {TARGET_WITHIN:.0%} within +-20% -> "
        f"{'MET' if ok else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
