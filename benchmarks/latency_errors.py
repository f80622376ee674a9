"""Where the latency predictor's systematic errors come from: per-operator evidence, and the
median error per family on held-out configurations.

Two modes:

``measure``: draws ``--configs`` random configurations per ``--family`` from the spaces of
``benchmarks/latency_predictor.py`` (none in the calibration set), times each (CPU, one thread,
process CPU clock: least-disturbed of the runs over round-robin rounds) and writes the times to
``--measured`` (JSON), so several predictors can be scored on the same measurements.

``score``: predicts the configurations of ``--measured`` with each ``--calibration`` and prints
per family the median error, the share within +-10% and the worst error (prediction / measurement
- 1); ``--by`` splits them by a field (e.g. ``img_size``, ``embed_dim``).

``profile``: one configuration (``--index`` of ``--measured``) under ``torch.profiler``: every
top-level operator's time (CPU, inclusive of what it calls), grouped by the predictor's categories
(conv, dwconv, linear, attn, norm; everything else is glue), next to the prediction's per-category
terms (category model x category factor x family factor, the glue of every category summed).

    PYTHONPATH=. python benchmarks/latency_errors.py measure --family hrvit vit --measured m.json
    PYTHONPATH=. python benchmarks/latency_errors.py score --measured m.json --calibration cal.json
    PYTHONPATH=. python benchmarks/latency_errors.py profile --measured m.json --index 3 \
        --calibration cal.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from hirisearch.latency.predict import (
    DW_MAX_INTENSITY,
    is_glue,
    load_calibration,
    predict_latency_ms,
    predict_ops_ms,
    tree_ops,
)
from hirisearch.latency.timing import time_callable
from hirisearch.models import get_family

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_predictor import SPACES, draw  # noqa: E402  (the benchmark's configuration spaces)

from hirisearch.latency.networks import calibration_configs, config_key  # noqa: E402


def _spec(entry: dict[str, Any]) -> tuple[Any, Any]:
    family = get_family(entry["family"])
    spec = family.spec_type.model_validate(entry["spec"])
    return family, family.plan(spec, spec.img_size)


def measure(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    refused = {config_key(s, s.img_size) for _, s in calibration_configs()}
    entries = []
    for name in args.family:
        for spec, _ in draw(name, args.configs, random.Random(f"{args.seed}-{name}"), refused):
            entries.append({"family": name, "spec": spec.model_dump(mode="json")})
    # Round-robin over a few models at a time (a burst of other work then disturbs one round of a
    # configuration, not all of them), never all of them built at once (memory).
    for start in range(0, len(entries), args.chunk):
        chunk = entries[start : start + args.chunk]
        built = []
        for e in chunk:
            family, plan = _spec(e)
            built.append((family.build(plan).eval(), torch.randn(1, *plan.input_shape)))
        runs: list[list[float]] = [[] for _ in chunk]
        with torch.inference_mode():
            for _ in range(args.rounds):
                for (model, x), out in zip(built, runs, strict=True):
                    out += time_callable(
                        lambda model=model, x=x: model(x),
                        torch.device("cpu"),
                        warmup_s=0.05,
                        min_time_s=args.min_time / args.rounds,
                        min_runs=2,
                        clock="cpu",
                    )
        for e, samples in zip(chunk, runs, strict=True):
            e["ms"] = min(samples)
        print(f"{start + len(chunk)}/{len(entries)} measured", file=sys.stderr)
        del built
    doc = {"load": os.getloadavg(), "torch": torch.__version__, "configs": entries}
    Path(args.measured).write_text(json.dumps(doc, indent=1))
    print(f"{len(entries)} configurations -> {args.measured} (load {os.getloadavg()[0]:.1f})")


def score(args: argparse.Namespace) -> None:
    doc = json.loads(Path(args.measured).read_text())
    print(f"measured at load {doc['load'][0]:.1f} (1-min average), torch {doc['torch']}")
    header = "| calibration | family | " + (f"{args.by} | " if args.by else "")
    print(f"\n{header}configs | median error | within ±10% | worst |")
    print("|---" * (header.count("|") + 3) + "|")
    for path in args.calibration:
        cal = load_calibration("cpu", path)
        groups: dict[tuple[str, Any], list[float]] = defaultdict(list)
        for e in doc["configs"]:
            family, plan = _spec(e)
            p = predict_latency_ms(family.cost(plan), cal, family=family.name)
            key = e["spec"].get(args.by) if args.by else ""
            groups[(e["family"], str(key))].append(p / e["ms"] - 1)
        for (fam, key), errs in sorted(groups.items()):
            within = sum(abs(x) <= 0.1 for x in errs) / len(errs)
            cell = f"{key} | " if args.by else ""
            print(
                f"| {Path(path).name} | {fam} | {cell}{len(errs)} | "
                f"{statistics.median(errs):+.1%} | {within:.0%} | {max(errs, key=abs):+.0%} |"
            )


def _category(event: Any) -> str:
    """The predictor's category of one top-level profiler event (glue: anything else)."""
    name = event.name.removeprefix("aten::")
    if name in ("conv2d", "convolution", "_convolution", "mkldnn_convolution"):
        weight = event.input_shapes[1] if len(event.input_shapes) > 1 else []
        if len(weight) == 4 and weight[1] * weight[2] * weight[3] <= DW_MAX_INTENSITY:
            return "dwconv"
        return "conv"
    if name in ("linear", "addmm", "mm", "matmul", "bmm"):
        return "linear"
    if "scaled_dot_product" in name:
        return "attn"
    if name in ("layer_norm", "batch_norm", "native_batch_norm", "native_layer_norm"):
        return "norm"
    return "glue"


def profile(args: argparse.Namespace) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.set_num_threads(1)
    doc = json.loads(Path(args.measured).read_text())
    entry = doc["configs"][args.index]
    family, plan = _spec(entry)
    model, x = family.build(plan).eval(), torch.randn(1, *plan.input_shape)
    with torch.inference_mode():
        for _ in range(2):
            model(x)
        with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(args.runs):
                model(x)
    times: dict[str, float] = defaultdict(float)
    glue: dict[str, float] = defaultdict(float)
    for ev in prof.events():
        if ev.cpu_parent is not None or not ev.name.startswith("aten::"):
            continue
        cat = _category(ev)
        ms = ev.cpu_time_total / 1e3 / args.runs
        times[cat] += ms
        if cat == "glue":
            glue[ev.name] += ms
    tree = family.cost(plan)
    cal = load_calibration("cpu", args.calibration)
    factor = cal.family_scales.get(family.name, 1.0)
    pred: dict[str, float] = defaultdict(float)
    for cat, ms in predict_ops_ms(tree_ops(tree), cal).items():
        pred["glue" if is_glue(cat) else cat.replace("attn_bias", "attn")] += ms * factor
    print(f"{entry['spec']['name']} ({family.name}, {plan.img_size} px, "
          f"{tree.total.macs / 1e9:.2f} GMACs): measured {entry['ms']:.1f} ms, predicted "
          f"{sum(pred.values()):.1f} ms, profiled {sum(times.values()):.1f} ms "
          f"(family factor x{factor:.2f})")  # fmt: skip
    print("\n| category | predicted ms | profiled ms | predicted / profiled |\n|---|---|---|---|")
    for cat in sorted(set(pred) | set(times), key=lambda c: -times.get(c, 0.0)):
        p, t = pred.get(cat, 0.0), times.get(cat, 0.0)
        ratio = f"{p / t:.2f}" if t else "-"
        print(f"| {cat} | {p:.1f} | {t:.1f} | {ratio} |")
    print("\nglue, by operator (profiled ms):")
    for name, ms in sorted(glue.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {name:<40} {ms:8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--family", nargs="+", choices=sorted(SPACES), default=sorted(SPACES))
    m.add_argument("--configs", type=int, default=24)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--rounds", type=int, default=4)
    m.add_argument("--min-time", type=float, default=0.8, help="measuring seconds per config")
    m.add_argument("--chunk", type=int, default=6, help="models built at a time")
    m.add_argument("--measured", required=True)
    s = sub.add_parser("score")
    s.add_argument("--measured", required=True)
    s.add_argument("--calibration", action="append", required=True, help="repeatable")
    s.add_argument("--by", help="split by this spec field (e.g. img_size)")
    p = sub.add_parser("profile")
    p.add_argument("--measured", required=True)
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--calibration", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    {"measure": measure, "score": score, "profile": profile}[args.mode](args)


if __name__ == "__main__":
    main()
