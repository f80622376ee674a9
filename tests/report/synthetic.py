"""Synthetic results documents of every kind (numbers are made up but plausible, and chosen so that
tests can predict the output). Profile and bench documents are made by the results themselves
(``ProfileResult``, ``BenchResult``), so they cannot drift from what the program writes."""

from __future__ import annotations

from typing import Any

from hirisearch.cost.convention import CONVENTION
from hirisearch.latency.result import BenchResult, Environment
from hirisearch.ops.profile import ProfileResult, SectionResult

SWEEP_SIZES = list(range(224, 1025, 32))


def _stages(names: list[str], params: list[int], macs: list[int]) -> tuple[SectionResult, ...]:
    total = sum(macs)
    return tuple(
        SectionResult(
            name=n, path=n, depth=1, params=p, macs=m, macs_traced=m, share=m / total,
            out_shape=(1, 64, 7, 7), acts=None, norm=0, macs_analytic=m,
        )
        for n, p, m in zip(names, params, macs, strict=True)
    )  # fmt: skip


def profile_result(
    name: str, spec: str, *, img_size: int = 448, scale: float = 1.0, family: str = "hiri_vit"
) -> dict[str, Any]:
    """A :meth:`ProfileResult.to_json` document, from a :class:`ProfileResult`."""
    names = ["stem", "stage1", "stage2", "stage3", "head"]
    params = [int(scale * p) for p in (21_000, 160_000, 1_420_000, 15_230_000, 3_670_000)]
    macs = [
        int(scale * m) for m in (291_000_000, 444_000_000, 1_770_000_000, 3_300_000_000, 29_000_000)
    ]
    total = sum(macs)
    cats = {
        "conv": total // 5,
        "linear": total // 2,
        "attn": total - total // 5 - total // 2,
        "other": 0,
        "norm": total // 100,
    }
    return ProfileResult(
        spec=spec, family=family, name=name, img_size=img_size,
        input_shape=(1, 3, img_size, img_size), batch=1, dtype="fp32", convention=CONVENTION,
        params=sum(params), macs=total, macs_analytic=total, macs_traced=total, agreement=0.0,
        norm=cats["norm"], acts=1_000_000, categories=cats, categories_traced=cats,
        traced_mode="meta", traced_note="", traced_seconds=0.1, uncounted_ops=(),
        stages=_stages(names, params, macs),
    ).to_json()  # fmt: skip


def compare_doc() -> dict[str, Any]:
    return {
        "kind": "compare",
        "baselines": ["timm:swin_tiny"],
        "results": [
            profile_result("HIRI-ViT-S", "specs/s.yaml", scale=0.75),
            profile_result("Swin-T", "timm:swin_tiny", scale=1.4, family="swin"),
        ],
    }


def sweep_doc() -> dict[str, Any]:
    def series(name, family, spec, macs, params, ok, method):  # noqa: ANN001
        return {
            "spec": spec, "name": name, "family": family, "method": method,
            "points": [{"img_size": s, "params": params(s), "macs": int(macs(s))}
                       for s in SWEEP_SIZES if ok(s)],
            "skipped": [{"img_size": s, "reason": f"{name} cannot take {s}"}
                        for s in SWEEP_SIZES if not ok(s)],
        }  # fmt: skip

    return {
        "kind": "sweep",
        "batch": 1,
        "img_sizes": SWEEP_SIZES,
        "baselines": ["timm:deit_small_patch16_224"],
        "series": [
            series("HIRI-ViT-S", "hiri_vit", "specs/s.yaml", lambda s: 4.96e9 * (s / 448) ** 2,
                   lambda s: 20_684_264, lambda s: True, "analytic"),
            series("DeiT-S", "vit", "timm:deit_small_patch16_224",
                   lambda s: 4.25e9 * (s / 224) ** 2 + 0.36e9 * (s / 224) ** 4,
                   lambda s: 22_050_664 + 384 * ((s // 16) ** 2 - 196), lambda s: True, "traced"),
            series("Swin-T", "swin", "timm:swin_tiny_patch4_window7_224",
                   lambda s: 4.5e9 * (s / 224) ** 2, lambda s: 28_288_354,
                   lambda s: s % 224 == 0, "traced"),
        ],
    }  # fmt: skip


def bench_doc() -> dict[str, Any]:
    def rec(name, spec, gmacs, ms, device="cpu", dtype="fp32"):  # noqa: ANN001
        env = Environment(
            device=device,
            device_name="synthetic",
            torch_version="2",
            threads=2 if device == "cpu" else 8,
            dtype=dtype,
            channels_last=False,
            compile=False,
            fuse=True,
        )
        return BenchResult(
            name=name, spec=spec, family="", img_size=448, batch=1, status="ok",
            macs=int(gmacs * 1e9), latency_ms=ms, iqr_ms=ms * 0.04, p90_ms=ms * 1.06,
            throughput=1000 / ms, gmacs_per_s=gmacs / (ms / 1000),
            peak_mem_bytes=None if device == "cpu" else 812 * 2**20, env=env,
        ).to_json()  # fmt: skip

    return {
        "kind": "bench",
        "baselines": ["timm:swin_tiny"],
        "records": [
            rec("HIRI-ViT-S", "specs/s.yaml", 4.96, 61.0),
            rec("HIRI-ViT-B", "specs/b.yaml", 6.69, 80.5),
            rec("Swin-T", "timm:swin_tiny", 17.6, 140.2),
            rec("HIRI-ViT-S", "specs/s.yaml", 4.96, 3.1, "cuda", "fp16"),
            rec("Swin-T", "timm:swin_tiny", 17.6, 5.9, "cuda", "fp16"),
        ],
    }


def search_doc() -> dict[str, Any]:
    trials = []
    for n in range(60):
        depth, dim = 1 + n % 6, 32 * (1 + (n * 7) % 9)
        gmacs = 0.4 * depth + dim / 40
        err = 30 - 3 * depth**0.5 - dim / 60 + ((n * 13) % 7) / 10
        trials.append(
            {
                "number": n,
                "state": "COMPLETE" if n % 17 else "PRUNED",
                "feasible": gmacs <= 6.0,
                "params": int(1e6 * (depth * dim / 20)),
                "macs": int(gmacs * 1e9),
                "objectives": {"gmacs": gmacs, "top1_err": err},
                "pareto": False,
                "axes": {"depth": depth, "dim": dim, "mlp_ratio": 4.0},
            }
        )
    # the Pareto front (both minimised) among the feasible trials
    feas = [t for t in trials if t["feasible"]]
    for t in feas:
        g, e = t["objectives"]["gmacs"], t["objectives"]["top1_err"]
        t["pareto"] = not any(
            o["objectives"]["gmacs"] <= g and o["objectives"]["top1_err"] <= e and o is not t
            and (o["objectives"]["gmacs"] < g or o["objectives"]["top1_err"] < e)
            for o in feas
        )  # fmt: skip
    return {
        "kind": "search",
        "base_spec": "specs/s.yaml",
        "img_size": 448,
        "budgets": {"gmacs": 6.0, "params_m": 40.0},
        "objectives": [
            {"name": "gmacs", "direction": "minimize"},
            {"name": "top1_err", "direction": "minimize"},
        ],
        "trials": trials,
        "baselines": [
            {"name": "HIRI-ViT-S", "spec": "specs/s.yaml", "params": 20_684_264,
             "macs": 4_964_761_984, "objectives": {"gmacs": 4.96, "top1_err": 26.0}},
        ],
    }  # fmt: skip


DOCS = {
    "compare": compare_doc,
    "sweep": sweep_doc,
    "bench": bench_doc,
    "search": search_doc,
}
