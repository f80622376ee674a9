"""Calibrations and benchmark lists the latency, CLI and search tests share. Made-up coefficients,
not measurements: they check the predictor's arithmetic, not a device."""

from __future__ import annotations

import numpy as np
import torch

from hirisearch.latency import predictor as pr
from hirisearch.latency.interval import ErrorModel, Intervals
from hirisearch.latency.networks import network_benchmarks
from hirisearch.latency.predictor import CATEGORIES, Calibration, Op, Sample
from hirisearch.models import get_family

#: The coefficients :func:`synthetic_samples` are generated from, per category.
TRUE_COEFFS = {
    "conv": (2e-8, 3e-7, 0.0, 0.01),
    "dwconv": (5e-8, 1e-6, 0.0, 0.02),
    "linear": (1.5e-8, 2e-7, 1e-7, 0.005),
}

#: Small operators of every category a shallow ViT uses (names of operator micro-benchmarks).
FEW_OPERATORS = (
    "conv1x1 448->448 @7/s1",
    "linear 448->896 x49",
    "linear 448->1000 x1",
    "attention 14h q49 kv49 d32",
    "attention 14h q1 kv50 d32",
    "layernorm 448 x49",
)


def synthetic_samples() -> list[Sample]:
    """Twelve samples per category of :data:`TRUE_COEFFS`, timed exactly by those coefficients."""
    rng = np.random.default_rng(0)
    out = []
    for cat, coef in TRUE_COEFFS.items():
        for i in range(12):
            macs = int(rng.integers(10**5, 10**9))
            op = Op(cat, macs, int(macs / rng.uniform(9, 500)), int(rng.integers(100, 10**6)))
            batch = int(rng.choice([1, 2, 8]))
            ms = sum(a * f for a, f in zip(coef, op.features(batch), strict=True))
            out.append(Sample(f"{cat}{i}", op, batch, ms))
    return out


def few_benches() -> list[pr.MicroBench]:
    """The :data:`FEW_OPERATORS` and a shallow ViT (4 ms) as the network."""
    ops = [mb for mb in pr.operator_benchmarks() if mb.name in FEW_OPERATORS]
    nets = [mb for mb in network_benchmarks([get_family("vit")]) if mb.name.endswith("@224")]
    return ops + nets[:1]


def uniform_calibration() -> Calibration:
    """The same coefficients for every category (so a whole model predicts) and the
    :func:`synthetic_samples`."""
    coeffs = {c: (1e-8, 1e-7, 0.0, 0.01) for c in CATEGORIES}
    return Calibration(
        "cpu", "test cpu", torch.__version__, 1, "now", coeffs, tuple(synthetic_samples())
    )


def synthetic_calibration() -> Calibration:
    """Different coefficients per category, per-category scales and family factors: every term of
    the predictor is used, for tests of the arithmetic of the sum over sections."""
    coeffs = {c: (1e-9 * (k + 1), 2e-8, 1e-10, 0.004) for k, c in enumerate(CATEGORIES)}
    return Calibration(
        "cpu",
        "synthetic (test)",
        "-",
        1,
        "-",
        coeffs,
        (),
        scales={"conv": 1.25, "attn": 1.5},
        family_scales={"hiri_vit": 1.1, "swin": 0.9},
        intervals=SYNTHETIC_INTERVALS,
        family_category_scales={"hiri_vit": {"attn": 0.8}, "hrvit": {"dwconv": 1.5, "norm": 1.2}},
    )


#: Error models of :func:`synthetic_calibration`: HIRI-ViT's interval lies above its prediction.
SYNTHETIC_INTERVALS = Intervals(
    {
        "hiri_vit": ErrorModel(n=10, center=0.03, spread=0.06, repeat=0.04, rounds=3),
        "swin": ErrorModel(n=10, center=-0.02, spread=0.08, repeat=0.03, rounds=3),
    },
    ErrorModel(n=30, center=0.0, spread=0.15, repeat=0.04, rounds=3),
)
