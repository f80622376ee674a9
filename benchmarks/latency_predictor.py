"""The calibrated latency predictor against measurement on random configurations of every family.

Calibrates (operator micro-benchmarks, then the families' own calibration networks), then for each
``--family`` draws ``--configs`` random configurations from the space a user would search (input
sizes 224-512 px; PIIP its branch resolutions), refuses any that is in the calibration set,
predicts each latency from the analytic cost tree with its interval at ``--coverage`` (default
90%), measures it, and prints per family the Spearman rank correlation, the share of measurements
inside their interval (next to the stated coverage), the median interval half-width, the share of
predictions within +-10% and +-20% and the median error. The measurement is checked against itself
too ("repeat"): each configuration's even rounds against its odd rounds, the median disagreement
and the share within +-10% -- the most a predictor can score against this machine.

Targets (CPU, ``--threads 1 --clock cpu``): per family, stated 90% intervals hold 80-97% of the
measurements, the median interval is no wider than +-15%, and Spearman >= 0.95.

On a machine shared with other work, use ``--threads 1 --clock cpu`` (process CPU time, for the
calibration and the measurements alike).

``--quick`` also adapts a calibration right before the measurements (``calibrate --quick``: from
``--quick-from FILE``, another machine's or an older one of this device, or by default from the
full calibration just made, i.e. the device re-measured in a minute), prints its time, and scores
it on the same timings in a second table: the quick calibration's accuracy and coverage against
the full one's.

    PYTHONPATH=. python benchmarks/latency_predictor.py --threads 1 --clock cpu [--family swin]
        [--configs 24] [--coverage 0.9] [--device cpu|cuda]
        [--save cal.json | --calibration cal.json] [--quick [--quick-from base.json]]
        [--save-measured m.json | --measured m.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hirisearch.latency.calibration import calibrate, calibrate_quick
from hirisearch.latency.networks import calibration_configs, config_key
from hirisearch.latency.predict import (
    interval_of,
    load_calibration,
    predict_latency_ms,
    save_calibration,
)
from hirisearch.latency.stats import spearman, summarize
from hirisearch.latency.timing import time_callable
from hirisearch.models import get_family
from hirisearch.models.resolution import size_label

TARGET_SPEARMAN = 0.95
#: The share of measurements a stated 90% interval must hold, per family, and the widest median
#: half-width (a fraction of the prediction).
TARGET_COVERAGE = (0.80, 0.97)
TARGET_HALF_WIDTH = 0.15
#: Draws above this many GMACs are redrawn (a search runs under a compute budget; this one keeps
#: one forward pass on one CPU thread under about half a second).
MAX_GMACS = 12.0
SIZES = (224, 256, 288, 320, 384, 448, 512)


def _heads(dim: int, head_dim: int = 64) -> int:
    return max(1, dim // head_dim)


def hiri_vit(rng: random.Random) -> dict[str, Any]:
    n_hr = rng.choice([1, 2, 2, 3])
    dims, d = [], rng.choice([16, 24, 32, 48])
    for _ in range(5):
        dims.append(d)
        d = int(d * rng.choice([1.5, 2, 2, 2.5]))
    dims = [max(32, round(x / 32) * 32) if s >= n_hr else x for s, x in enumerate(dims)]
    kinds = ["hr"] * n_hr + ["transformer"] * (5 - n_hr)
    return dict(
        img_size=rng.choice(SIZES),
        stem_chs=rng.choice([16, 24, 32]),
        block_types=kinds,
        depths=[rng.randint(1, 4) for _ in range(5)],
        dims=dims,
        num_heads=[0 if k == "hr" else d // 32 for k, d in zip(kinds, dims, strict=True)],
        mlp_ratios=[rng.choice([2, 4]) if k == "hr" else rng.choice([4, 8]) for k in kinds],
        sr_ratios=[1 if k == "hr" or s > 2 else rng.choice([1, 2]) for s, k in enumerate(kinds)],
        head=rng.choice(["avg", "class_attn"]),
    )


def swin(rng: random.Random) -> dict[str, Any]:
    size = rng.choice(SIZES)
    dim = rng.choice([48, 64, 96, 128])
    return dict(
        img_size=size,
        embed_dim=dim,
        depths=[rng.choice([1, 2]), rng.choice([1, 2]), rng.choice([2, 4, 6]), rng.choice([1, 2])],
        num_heads=[dim * 2**i // 32 for i in range(4)],
        window_size=7 * size // 224,  # the window follows the resolution: 7 at 224
        mlp_ratio=rng.choice([3, 4]),
    )


def vit(rng: random.Random) -> dict[str, Any]:
    dim = rng.choice([192, 256, 384, 512, 768])
    token = rng.random() < 0.5
    return dict(
        img_size=rng.choice(SIZES),
        embed_dim=dim,
        depth=rng.randint(4, 12),
        num_heads=_heads(dim),
        mlp_ratio=rng.choice([3, 4]),
        class_token=token,
        global_pool="token" if token else "avg",
    )


def resformer(rng: random.Random) -> dict[str, Any]:
    dim = rng.choice([192, 256, 384, 512, 768])
    return dict(
        img_size=rng.choice(SIZES),
        embed_dim=dim,
        depth=rng.randint(4, 12),
        num_heads=_heads(dim),
        mlp_ratio=rng.choice([3, 4]),
    )


def piip(rng: random.Random) -> dict[str, Any]:
    n = rng.choice([2, 3])
    top = rng.choice([224, 256, 320, 368, 384, 448])
    ratios = [1.0, rng.choice([0.5, 0.6])] + ([rng.choice([0.3, 0.35])] if n == 3 else [])
    dims = sorted(rng.sample([192, 256, 384, 512, 768], n))  # larger models on smaller images
    depth = rng.randint(2, 8)
    branches = [
        dict(
            img_size=max(16, round(top * r / 16) * 16),
            dim=dim,
            depth=depth,
            num_heads=_heads(dim),
        )
        for r, dim in zip(ratios, dims, strict=True)
    ][::-1]
    return dict(
        img_size=top,
        branches=branches,
        interactions=rng.randint(1, min(depth, 4)),
        cls_token=True,
    )


def hrvit(rng: random.Random) -> dict[str, Any]:
    chs = rng.choice([(32, 64, 128, 256), (32, 64, 128, 256), (64, 128, 256, 512)])
    groups = rng.randint(4, 6)
    depths = [[1], [1, 1], [1, 1, rng.randint(1, 6)]]
    while len(depths) < groups:
        depths.append([1, 1, rng.randint(1, 6), rng.randint(1, 3)])
    ratio = rng.choice([2, 4])
    return dict(
        img_size=rng.choice(SIZES),
        channels=chs,
        depths=depths,
        window_sizes=(1, 2, 7, 7),
        mlp_ratios=(ratio,) * 4,
        head_channels=(32, 64, 128, 256),
    )


SPACES: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "hiri_vit": hiri_vit,
    "swin": swin,
    "vit": vit,
    "resformer": resformer,
    "piip": piip,
    "hrvit": hrvit,
}


def draw(name: str, n: int, rng: random.Random, refused: set) -> list[tuple[Any, Any]]:
    """``n`` random ``(spec, plan)`` pairs of family ``name``, none in ``refused`` (the calibration
    set), none above :data:`MAX_GMACS`, no two alike."""
    family = get_family(name)
    out: list[tuple[Any, Any]] = []
    seen = set(refused)
    while len(out) < n:
        fields = SPACES[name](rng)
        spec = family.spec_type.model_validate(
            {"family": name, "name": f"{name}-{len(out)}", **fields}
        )
        key = config_key(spec, spec.img_size)
        if key in seen:
            continue
        plan = family.plan(spec, None)
        if family.cost(plan).total.macs > MAX_GMACS * 1e9:
            continue
        seen.add(key)
        out.append((spec, plan))
    return out


def held_out(name: str, n: int, seed: int) -> list[tuple[Any, Any]]:
    """The ``n`` configurations of family ``name`` a run with ``seed`` draws (:func:`draw`, the
    calibration set refused)."""
    refused = {config_key(s, s.img_size) for _, s in calibration_configs()}
    return draw(name, n, random.Random(f"{seed}-{name}"), refused)


def measure(name: str, args: argparse.Namespace, device: torch.device) -> list[tuple]:
    """``--configs`` random configurations of family ``name``, each measured in ``--rounds``
    round-robin rounds: ``(spec, plan, tree, measured ms, repeat)`` per configuration, ``repeat``
    the disagreement of its even rounds with its odd rounds (None with one round)."""
    family = get_family(name)
    configs = held_out(name, args.configs, args.seed)
    models = []
    for _spec, plan in configs:
        model = family.build(plan).eval().to(device)
        models.append((model, torch.randn(1, *plan.input_shape, device=device)))
    # runs[config][round]: each round's samples, kept apart to compare even and odd rounds.
    runs: list[list[list[float]]] = [[] for _ in configs]
    with torch.inference_mode():
        for _ in range(args.rounds):
            for (model, x), out in zip(models, runs, strict=True):
                out.append(
                    time_callable(
                        lambda model=model, x=x: model(x),
                        device,
                        warmup_s=0.05,
                        min_time_s=args.min_time / args.rounds,
                        min_runs=2,
                        clock=args.clock,
                    )
                )

    def stat(samples: list[float]) -> float:
        s = summarize(samples)
        return s.min_ms if args.statistic == "min" else s.median_ms

    out = []
    for (spec, plan), rounds in zip(configs, runs, strict=True):
        repeat = None
        if len(rounds) > 1:  # the measurement against itself: even rounds against odd rounds
            even = stat([t for r in rounds[::2] for t in r])
            odd = stat([t for r in rounds[1::2] for t in r])
            repeat = abs(even / odd - 1)
        ms = stat([t for r in rounds for t in r])
        out.append((spec, plan, family.cost(plan), ms, repeat))
    return out


def remeasured(name: str, args: argparse.Namespace, times: list) -> list[tuple]:
    """:func:`measure`'s rows from stored ``[ms, repeat]`` pairs: the same draws (same seed)."""
    family = get_family(name)
    configs = held_out(name, len(times), args.seed)
    return [
        (spec, plan, family.cost(plan), ms, rep)
        for (spec, plan), (ms, rep) in zip(configs, times, strict=True)
    ]


def score(name: str, measured: list[tuple], cal: Any, args: argparse.Namespace, what: str) -> dict:
    """The predictions of calibration ``cal`` (called ``what``) against ``measured``: a table per
    configuration and the family's figures."""
    family = get_family(name)
    rows = []
    for spec, plan, tree, ms, _ in measured:
        pred = interval_of(
            predict_latency_ms(tree, cal, family=name), cal, family=name, coverage=args.coverage
        )
        rows.append((spec, size_label(plan.img_size), tree.total.macs, pred, ms))
    print(
        f"\n{family.title} ({name}), {what}: {len(rows)} random configurations, "
        f"interval {rows[0][3].basis}"
    )
    print(
        f"{'config':<14} {'res':>4} {'GFLOPs':>7} {'predicted':>10} {'interval':>15} "
        f"{'measured':>9} {'error':>7}"
    )
    for spec, size, macs, p, m in rows:
        span = f"{p.low_ms:.1f}-{p.high_ms:.1f}"
        mark = " " if p.low_ms <= m <= p.high_ms else "*"
        print(
            f"{spec.name:<14} {size:>4} {macs / 1e9:>7.3f} {p.ms:>10.1f} {span:>15} "
            f"{m:>9.1f}{mark}{p.ms / m - 1:>+7.1%}"
        )
    errors = [r[3].ms / r[4] - 1 for r in rows]
    halves = [(r[3].high_ms - r[3].low_ms) / 2 / r[3].ms for r in rows]
    repeat = sorted(m[4] for m in measured if m[4] is not None)
    return dict(
        family=family.title,
        n=len(rows),
        spearman=spearman([r[3].ms for r in rows], [r[4] for r in rows]),
        spearman_macs=spearman([r[2] for r in rows], [r[4] for r in rows]),
        inside=sum(r[3].low_ms <= r[4] <= r[3].high_ms for r in rows) / len(rows),
        half=float(np.median(halves)),
        median_error=float(np.median(errors)),
        within10=sum(abs(e) <= 0.1 for e in errors) / len(rows),
        within20=sum(abs(e) <= 0.2 for e in errors) / len(rows),
        worst=max(errors, key=abs),
        repeat=repeat[len(repeat) // 2] if repeat else float("nan"),
        repeat10=sum(r <= 0.1 for r in repeat) / len(repeat) if repeat else float("nan"),
    )


def summary(what: str, results: list[dict], coverage: float) -> bool:
    """The summary table of one calibration's ``results``; whether every family met the targets."""
    print(
        f"\n{what}\n| family | configs | inside {coverage:.0%} interval | median half-width "
        "| within ±10% | within ±20% | median error | worst | Spearman | GFLOPs Spearman "
        "| repeat: median | repeat: within ±10% |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    low, high = TARGET_COVERAGE
    ok = True
    for r in results:
        met = (
            low <= r["inside"] <= high
            and r["half"] <= TARGET_HALF_WIDTH
            and r["spearman"] >= TARGET_SPEARMAN
        )
        ok &= met
        print(
            f"| {r['family']} | {r['n']} | {r['inside']:.0%} | ±{r['half']:.1%} | "
            f"{r['within10']:.0%} | {r['within20']:.0%} | {r['median_error']:+.1%} | "
            f"{r['worst']:+.0%} | {r['spearman']:.3f} | {r['spearman_macs']:.3f} | "
            f"{r['repeat']:.1%} | {r['repeat10']:.0%} |"
        )
    print(
        f"targets (stated 90%): per family {low:.0%}-{high:.0%} inside the interval, median "
        f"half-width <= ±{TARGET_HALF_WIDTH:.0%}, Spearman >= {TARGET_SPEARMAN} -> "
        f"{'MET' if ok else 'NOT MET'}"
    )
    return ok


def drift(base: Any, quick: Any) -> None:
    """How the device's speed moved between ``base`` and the quick calibration: the quick
    networks' times against the base's times of the same networks (when the base timed them)."""
    then = dict(base.networks)
    ratios = sorted(ms / then[name] for name, ms in quick.networks if then.get(name))
    if ratios:
        print(
            f"  the {len(ratios)} quick networks ran at x{ratios[len(ratios) // 2]:.3f} "
            f"(median; x{ratios[0]:.3f}-x{ratios[-1]:.3f}) of the base calibration's times"
        )


def describe(cal: Any) -> None:
    if cal.intervals is None:
        print("  the calibration holds no error models: every interval is the stated fallback")
        return
    models = sorted(cal.intervals.families.items())
    if cal.intervals.generic is not None:
        models.append(("(all families)", cal.intervals.generic))
    for f, m in models:
        print(
            f"  error model {f}: {m.n} held-out networks, center {m.center:+.3f}, "
            f"spread {m.spread:.3f}, repeat {m.repeat:.3f} (log)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", action="append", choices=sorted(SPACES), help="repeatable")
    ap.add_argument("--configs", type=int, default=24)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--min-time", type=float, default=0.8, help="measuring seconds per config")
    ap.add_argument("--rounds", type=int, default=4, help="round-robin rounds over the configs")
    ap.add_argument("--statistic", choices=("median", "min"), default="median")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--coverage", type=float, default=0.9, help="the intervals' stated coverage")
    ap.add_argument("--calibration", help="use this calibration file instead of calibrating")
    ap.add_argument("--save", help="write the calibration made here to this file")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="also adapt a calibration here (calibrate --quick) and score it on the same timings",
    )
    ap.add_argument("--save-measured", help="write the timings to this JSON file")
    ap.add_argument("--measured", help="score the timings of this file instead of measuring")
    ap.add_argument("--quick-from", help="--quick: the calibration adapted (default: the full one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    t0 = time.perf_counter()
    if args.calibration:
        cal = load_calibration(device, args.calibration)
        how = f"calibration {args.calibration}"
    else:
        cal = calibrate(device, threads=args.threads, clock=args.clock, statistic=args.statistic)
        how = f"calibration took {time.perf_counter() - t0:.0f} s"
        if args.save:
            save_calibration(cal, args.save)
    print(
        f"{device.type}, {args.threads} thread(s), {args.clock} clock, {args.statistic} of runs "
        f"({args.rounds} rounds), batch 1, fp32; {how} ({len(cal.samples)} operator samples, "
        f"{len(cal.networks)} networks)"
    )
    describe(cal)
    quick = None
    if args.quick:
        base = load_calibration(device, args.quick_from) if args.quick_from else cal
        t0, c0 = time.perf_counter(), time.process_time()
        quick = calibrate_quick(
            device, base, base_name=args.quick_from or "this run's calibration",
            threads=args.threads, clock=args.clock,
        )  # fmt: skip
        print(
            f"quick calibration (adapted from {quick.adapted_from}): "
            f"{time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU"
        )
        describe(quick)
        drift(base, quick)
    families = args.family or list(SPACES)
    if args.measured:  # the timings of an earlier run (same --seed and --configs), scored again
        doc = json.loads(Path(args.measured).read_text())
        measured = {n: remeasured(n, args, doc[n]) for n in families}
    else:
        measured = {name: measure(name, args, device) for name in families}
    if args.save_measured:
        Path(args.save_measured).write_text(
            json.dumps({n: [[m[3], m[4]] for m in rows] for n, rows in measured.items()})
        )
    summary(
        "full calibration",
        [score(n, measured[n], cal, args, "full calibration") for n in families],
        args.coverage,
    )
    if quick is not None:
        summary(
            "quick calibration",
            [score(n, measured[n], quick, args, "quick calibration") for n in families],
            args.coverage,
        )


if __name__ == "__main__":
    main()
