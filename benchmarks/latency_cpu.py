"""HIRI-ViT-S at 448 against Swin-T and DeiT-S at 224 on the CPU: latency and achieved GFLOP/s.

Target: HIRI-ViT-S at 448 reaches at least 80% of Swin-T-at-224's achieved GMACs/s without
BatchNorm folding (the fused model is shown too; ``bench`` folds by default).

The models are timed in interleaved rounds (each round times every model for a slice of the
measuring time), so that load changes on a shared machine hit all of them alike. ``--clock cpu``
times process CPU time instead of wall time, which with one thread is the time a pass takes on an
otherwise idle core (use it when the machine is shared; the table says which clock ran).

    PYTHONPATH=. python benchmarks/latency_cpu.py [--threads 1] [--clock cpu] [--min-time 6]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import timm
import torch

from hirisearch.cost.counters import count_traced
from hirisearch.latency.fuse import fuse_model
from hirisearch.latency.measure import time_callable
from hirisearch.latency.stats import summarize
from hirisearch.targets import resolve

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.80


def _timm(name: str):
    def build(device=None, dtype=None):
        return timm.create_model(name, pretrained=False).to(device=device, dtype=dtype)

    return build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--min-time", type=float, default=6.0, help="measuring seconds per model")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")

    hiri = resolve(str(ROOT / "specs" / "s.yaml"))
    sized = hiri.at(448)
    hiri_macs = sized.tree.total.macs
    fused = sized.build().eval()
    fuse_model(fused)
    models = [
        ("HIRI-ViT-S", 448, sized.build().eval(), hiri_macs),
        ("HIRI-ViT-S --fuse", 448, fused, hiri_macs),
    ]
    for label, name in [
        ("Swin-T", "swin_tiny_patch4_window7_224"),
        ("DeiT-S", "deit_small_patch16_224"),
    ]:
        macs = count_traced(_timm(name), (3, 224, 224)).total.macs
        models.append((label, 224, _timm(name)().eval(), macs))

    samples: dict[str, list[float]] = {m[0]: [] for m in models}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for label, size, model, _macs in models:
                x = torch.randn(1, 3, size, size)
                samples[label] += time_callable(
                    lambda model=model, x=x: model(x),
                    cpu,
                    warmup_s=0.3,
                    min_time_s=args.min_time / args.rounds,
                    min_runs=2,
                    clock=args.clock,
                )

    rows = []
    for label, size, _model, macs in models:
        s = summarize(samples[label])
        rows.append((label, size, macs, s, macs / 1e9 / (s.median_ms / 1e3)))
    swin_rate = next(r[4] for r in rows if r[0] == "Swin-T")
    print(
        f"CPU, {args.threads} thread(s), {args.clock} clock, batch 1, fp32, torch {torch.__version__}; "
        "GFLOPs = GMACs, attention included"
    )
    print(
        f"{'model':<18} {'res':>4} {'GFLOPs':>7} {'median ms':>10} {'IQR ms':>8} {'runs':>5} "
        f"{'GFLOP/s':>8} {'vs Swin-T':>9}"
    )
    for label, size, macs, s, rate in rows:
        print(
            f"{label:<18} {size:>4} {macs / 1e9:>7.3f} {s.median_ms:>10.1f} {s.iqr_ms:>8.1f} "
            f"{s.runs:>5} {rate:>8.2f} {rate / swin_rate:>8.2f}x"
        )
    ratio = rows[0][4] / swin_rate
    verdict = "MET" if ratio >= TARGET_RATIO else "NOT MET"
    print(
        f"target: HIRI-ViT-S@448 GFLOP/s >= {TARGET_RATIO:.0%} of Swin-T@224's: "
        f"{ratio:.0%} -> {verdict}"
    )


if __name__ == "__main__":
    main()
