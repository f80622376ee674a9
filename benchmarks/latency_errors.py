"""Where the latency predictor's systematic errors come from: per-operator evidence, and the
median error per family on held-out configurations.

Four modes:

``measure``: draws ``--configs`` random configurations per ``--family`` from the spaces of
``benchmarks/latency_predictor.py`` (none in the calibration set), times each (CPU, one thread,
process CPU clock: the median of the runs over round-robin rounds, as calibration times a network,
and the least-disturbed run) and writes the times to ``--measured`` (JSON), so several
predictors can be scored on the same measurements.

``score``: predicts the configurations of ``--measured`` with each ``--calibration`` and prints
per family the median error, the share within +-10% and the worst error (prediction / measurement
- 1); ``--by`` splits them by a field (e.g. ``img_size``, ``embed_dim``).

``refit``: the factors of ``--calibration`` fitted again on its own stored timings (no timing):
with each family's category factors from its in-situ samples (the default), or without
(``--shared-only``: the predictor before them), written to ``--out``.

``profile``: one configuration (``--index`` of ``--measured``) under ``torch.profiler``: every
top-level operator's time (CPU, inclusive of what it calls), grouped by the predictor's categories
(conv, dwconv, linear, attn, norm; everything else is glue), next to the prediction's per-category
terms (category model x category factor x family factor, the glue of every category summed).

    PYTHONPATH=. python benchmarks/latency_errors.py measure --family hrvit vit --measured m.json
    PYTHONPATH=. python benchmarks/latency_errors.py score --measured m.json --calibration cal.json
    PYTHONPATH=. python benchmarks/latency_errors.py refit --calibration cal.json --shared-only \
        --out before.json
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from hirisearch.latency.fit import fit_family_categories, fit_network_scales
from hirisearch.latency.predict import (
    DW_MAX_INTENSITY,
    is_glue,
    load_calibration,
    predict_latency_ms,
    predict_ops_ms,
    save_calibration,
    tree_ops,
)
from hirisearch.latency.timing import time_callable
from hirisearch.models import get_family

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_predictor import SPACES, draw  # noqa: E402  (the benchmark's configuration spaces)

from hirisearch.latency.networks import (  # noqa: E402
    calibration_configs,
    config_key,
    network_benchmarks,
)


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
            # The median, as calibration takes a network's time; the least-disturbed run too.
            e["ms"], e["ms_min"] = statistics.median(samples), min(samples)
        print(f"{start + len(chunk)}/{len(entries)} measured", file=sys.stderr)
        del built
        # Written after every chunk: what was measured survives an interrupted run.
        done = [e for e in entries if "ms" in e]
        doc = {"load": os.getloadavg(), "torch": torch.__version__, "configs": done}
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
            groups[(e["family"], str(key))].append(p / e[args.statistic] - 1)
        for (fam, key), errs in sorted(groups.items()):
            within = sum(abs(x) <= 0.1 for x in errs) / len(errs)
            cell = f"{key} | " if args.by else ""
            print(
                f"| {Path(path).name} | {fam} | {cell}{len(errs)} | "
                f"{statistics.median(errs):+.1%} | {within:.0%} | {max(errs, key=abs):+.0%} |"
            )


def _family_of(sample_name: str) -> str | None:
    """The family of an in-situ sample (``network <family>:<name> @<size>/<path>``), else None."""
    if not sample_name.startswith("network "):
        return None
    return sample_name.removeprefix("network ").split(":", 1)[0]


def refit(args: argparse.Namespace) -> None:
    cal = load_calibration("cpu", args.calibration)
    nets = {mb.name: mb for mb in network_benchmarks()}
    fc = {}
    if not args.shared_only:
        fc = fit_family_categories([(_family_of(s.name), s) for s in cal.samples], cal.coeffs)
    base = replace(cal, family_category_scales=fc)
    timed = [(nets[n].tree, ms, nets[n].family) for n, ms in cal.networks]
    scales, families = fit_network_scales(timed, base)
    save_calibration(replace(base, scales=scales, family_scales=families), args.out)
    print(f"{args.out}: family factors " + ", ".join(f"{f} x{v:.2f}" for f, v in families.items()))
    for f, cats in fc.items():
        print(f"  {f}: " + ", ".join(f"{c} x{v:.2f}" for c, v in cats.items()))


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
    for cat, ms in predict_ops_ms(tree_ops(tree), cal, family=family.name).items():
        pred["glue" if is_glue(cat) else cat.replace("attn_bias", "attn")] += ms * factor
    total_p, total_t = sum(pred.values()), sum(times.values())
    print(f"{entry['spec']['name']} ({family.name}, {plan.img_size} px, "
          f"{tree.total.macs / 1e9:.2f} GMACs): measured {entry['ms']:.1f} ms, predicted "
          f"{total_p:.1f} ms (family factor x{factor:.2f}); profiled {total_t:.1f} ms of wall "
          f"time (profiler overhead and other work included: compare the shares)")  # fmt: skip
    print(
        "\n| category | predicted ms | predicted share | profiled share | profiled share x "
        "measured ms | predicted / that |\n|---|---|---|---|---|---|"
    )
    for cat in sorted(set(pred) | set(times), key=lambda c: -times.get(c, 0.0)):
        p, share = pred.get(cat, 0.0), times.get(cat, 0.0) / total_t
        ratio = f"{p / (share * entry['ms']):.2f}" if share else "-"
        print(
            f"| {cat} | {p:.1f} | {p / total_p:.0%} | {share:.0%} | {share * entry['ms']:.1f} "
            f"| {ratio} |"
        )
    print("\nglue, by operator (share of the profiled time):")
    for name, ms in sorted(glue.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {name:<40} {ms / total_t:6.1%}")


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
    s.add_argument(
        "--statistic", choices=("ms", "ms_min"), default="ms", help="median (ms) or least run"
    )
    r = sub.add_parser("refit")
    r.add_argument("--calibration", required=True)
    r.add_argument("--shared-only", action="store_true", help="no family category factors")
    r.add_argument("--out", required=True)
    p = sub.add_parser("profile")
    p.add_argument("--measured", required=True)
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--calibration", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    {"measure": measure, "score": score, "refit": refit, "profile": profile}[args.mode](args)


if __name__ == "__main__":
    main()
