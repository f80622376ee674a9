"""HRViT b1/b2/b3 at 224: our counts against the published ones and fvcore.

fvcore has no handle for ``scaled_dot_product_attention``; this script gives it one (Q.K^T + A.V
multiply-adds), so the fvcore column is fvcore's own convention (MACs + BN/LN + up-sampling) on our
build, comparable with fvcore on the official model (b1: 2.81). Eager CPU, about 20 s per model.

Run: ``PYTHONPATH=. python benchmarks/hrvit_counts.py [b1 b2 b3]``
"""

from __future__ import annotations

import logging
import math
import sys

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import get_shape

from hirisearch.models import get_family
from hirisearch.spec import load_spec

#: variant -> (published params, published GFLOPs at 224)
PUBLISHED = {"b1": (19.69e6, 2.7), "b2": (32.49e6, 5.1), "b3": (37.87e6, 5.7)}


def _sdpa(inputs, outputs) -> int:  # noqa: ANN001 - fvcore handle signature
    q, k, v = (get_shape(i) for i in inputs[:3])
    return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


def main(variants: list[str]) -> None:
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    family = get_family("hrvit")
    print(
        "| model | params | published | ratio | GMACs (ours) | +norms | fvcore (our build) "
        "| published GFLOPs | ours / published |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for v in variants:
        plan = family.plan(load_spec(f"specs/hrvit/{v}.yaml"), 224)
        total = family.cost(plan).total
        model = family.build(plan).eval()
        fa = FlopCountAnalysis(model, torch.randn(1, *plan.input_shape))
        fa.set_op_handle("aten::scaled_dot_product_attention", _sdpa)
        fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        fv = fa.total() / 1e9
        params, gflops = PUBLISHED[v]
        macs = total.macs / 1e9
        print(
            f"| HRViT-{v} | {total.params / 1e6:.3f}M | {params / 1e6:.2f}M "
            f"| {total.params / params:.4f} | {macs:.3f} | {macs + total.norm / 1e9:.3f} "
            f"| {fv:.3f} | {gflops} | {macs / gflops:.3f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or sorted(PUBLISHED))
