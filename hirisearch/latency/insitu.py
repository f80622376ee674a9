"""In-situ operator timing: every module of a calibration network timed inside the running network.

An operator timed alone runs with warm caches, its own layout and no neighbours; inside a network
it meets cold weights, strided inputs and the glue around it (activations, residual adds, reshapes,
windowing, the forward's Python). Timing each module of the network where it runs -- forward
pre/post hooks on every module that has a node in the cost tree -- gives one sample per module:
its time, the operators of its subtree and, for a module with children, the glue of its subtree
as :func:`hirisearch.latency.predict.tree_ops` charges it. A leaf's glue (the activation after a
linear layer, the residual add after a projection) runs in its parents, so a leaf's sample holds
its operator alone. Only the cost tree is read: no family is known here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hirisearch.cost.types import CostNode
from hirisearch.latency.predict import Op, is_glue, tree_ops
from hirisearch.latency.timing import sync

__all__ = ["NodeSample", "node_samples", "samples_from_runs", "time_modules"]


@dataclass(frozen=True)
class NodeSample:
    """One timed module: the operators of its subtree with the glue records its time holds, and
    its time (ms, children included)."""

    path: str
    ops: tuple[Op, ...]
    ms: float


def time_modules(
    model: nn.Module,
    x: torch.Tensor,
    paths: list[str],
    device: torch.device,
    *,
    runs: int = 5,
    clock: str = "wall",
) -> list[dict[str, float]]:
    """Each module's inclusive time (ms) in each of ``runs`` forwards after one warm-up, by forward
    pre/post hooks: CUDA events on CUDA, else ``perf_counter`` or (``clock="cpu"``) the process's
    CPU time. One dict per run, of the modules whose hooks fired (``""``: the whole model)."""
    mods: dict[str, nn.Module] = {"": model}
    seen = {id(model)}
    for p in paths:
        try:
            m = model.get_submodule(p)
        except AttributeError:
            continue
        if id(m) not in seen:  # a module reachable by two paths is timed once
            seen.add(id(m))
            mods[p] = m
    cuda = device.type == "cuda"
    now: Callable[[], float] = time.perf_counter if clock == "wall" else time.process_time
    starts: dict[str, list] = {p: [] for p in mods}
    ends: dict[str, list] = {p: [] for p in mods}

    def mark(store: dict[str, list], p: str) -> None:
        if cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            store[p].append(ev)
        else:
            store[p].append(now())

    handles = []
    for p, m in mods.items():
        handles.append(m.register_forward_pre_hook(lambda _m, _a, p=p: mark(starts, p)))
        handles.append(m.register_forward_hook(lambda _m, _a, _o, p=p: mark(ends, p)))
    per_run: list[dict[str, float]] = []
    try:
        with torch.inference_mode():
            for r in range(runs + 1):
                for p in mods:
                    starts[p].clear()
                    ends[p].clear()
                model(x)
                sync(device)
                if r == 0:
                    continue  # warm-up
                run = {}
                for p in mods:
                    if not starts[p] or len(starts[p]) != len(ends[p]):
                        continue
                    if cuda:
                        ms = sum(s.elapsed_time(e) for s, e in zip(starts[p], ends[p], strict=True))
                    else:
                        ms = 1e3 * sum(e - s for s, e in zip(starts[p], ends[p], strict=True))
                    run[p] = ms
                per_run.append(run)
    finally:
        for h in handles:
            h.remove()
    return per_run


def samples_from_runs(
    tree: CostNode, per_run: list[dict[str, float]], *, statistic: str = "median", prefix: str = ""
) -> list[NodeSample]:
    """One sample per module timed in every run (its ``statistic``, median or min, over the
    runs): the operators of its subtree and, unless it is a leaf, their glue."""
    nodes = {"": tree, **dict(tree.walk())}
    fired = set.intersection(*(set(r) for r in per_run)) if per_run else set()
    stat = np.min if statistic == "min" else np.median
    out = []
    for p in sorted(fired, key=list(nodes).index):
        node = nodes[p]
        ops = tree_ops(node)
        if not node.children:  # a leaf's glue runs in its parents
            ops = [op for op in ops if not is_glue(op.category)]
        out.append(NodeSample(f"{prefix}{p}", tuple(ops), float(stat([r[p] for r in per_run]))))
    return out


def node_samples(
    tree: CostNode,
    model: nn.Module,
    x: torch.Tensor,
    device: torch.device,
    *,
    runs: int = 5,
    clock: str = "wall",
    statistic: str = "median",
    prefix: str = "",
) -> list[NodeSample]:
    """In-situ samples of every timed module of ``model`` (its cost tree ``tree``), the whole
    model included (path ``""``)."""
    paths = [p for p, _ in tree.walk()]
    per_run = time_modules(model, x, paths, device, runs=runs, clock=clock)
    return samples_from_runs(tree, per_run, statistic=statistic, prefix=prefix)
