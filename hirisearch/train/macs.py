"""Training MACs from the cost tree (no torch).

A training step's backward pass computes, for every operator the loss depends on, the gradient of
its input and the gradient of its weights. For a matmul, a convolution and an attention product
each is an operation as large as the forward one, so an operator's backward is twice its forward
MACs, with two exceptions the family's training twin names (:class:`~hirisearch.train.tape.Tape`):

- an operator that reads the image computes no input gradient (the image needs none): its
  backward is its forward (the weight gradient alone);
- an operator whose output never reaches the loss has no backward at all.

Activation checkpointing runs the forward of every checkpointed module once more inside the
backward pass (``recompute``), up to its last operator that keeps a tensor for the backward pass:
torch stops there, before running an operator that keeps only its inputs (a block's last
projection), so that operator is not recomputed. Normalisations, activations and softmax are not MACs, in training
as in inference (:mod:`hirisearch.cost.convention`). Counts are per sample; they hold at every
module path of the cost tree.
"""

from __future__ import annotations

from collections.abc import Iterable

from hirisearch.cost.types import CostNode
from hirisearch.train.tape import Event, Tape
from hirisearch.train.types import TrainMacs

__all__ = ["recompute_skips", "train_macs", "train_macs_per_path"]


def _inside(path: str, root: str) -> bool:
    """``path`` is ``root`` or below it (``""`` is the whole model)."""
    return not root or path == root or path.startswith(root + ".")


def train_macs(
    tree: CostNode,
    *,
    no_input_grad: Iterable[str] = (),
    dead: Iterable[str] = (),
    units: Iterable[str] = (),
    skips: Iterable[str] = (),
) -> TrainMacs:
    """Training MACs per sample of the whole model: :func:`train_macs_per_path` at the root,
    without walking every path."""
    fwd = tree.total.macs
    dead = [d for d in dead if d]
    macs = {p: tree.child(p).total.macs for p in {*no_input_grad, *dead, *units, *skips}}
    live_nig = [p for p in no_input_grad if not any(_inside(p, d) for d in dead)]
    bwd = 2 * fwd - sum(macs[p] for p in live_nig) - 2 * sum(macs[d] for d in dead)
    recompute = sum(macs[u] for u in units) - sum(macs[p] for p in skips)
    return TrainMacs(fwd, bwd, recompute)


def train_macs_per_path(
    tree: CostNode,
    *,
    no_input_grad: Iterable[str] = (),
    dead: Iterable[str] = (),
    units: Iterable[str] = (),
    skips: Iterable[str] = (),
) -> dict[str, TrainMacs]:
    """Training MACs per sample at every path of ``tree`` (root ``""``).

    Args:
        tree: the model's cost tree.
        no_input_grad: paths of operators that read the image.
        dead: paths of modules whose outputs never reach the loss.
        units: checkpointed module paths.
        skips: paths of operators a recomputation stops at without running them.
    """
    flat = tree.flatten()
    dead = [d for d in dead if d in flat]
    nig = [p for p in no_input_grad if p in flat and not any(_inside(p, d) for d in dead)]
    units = list(units)
    skips = [p for p in skips if p in flat]
    out: dict[str, TrainMacs] = {}
    for path, cost in flat.items():
        fwd = cost.macs
        if any(_inside(path, d) for d in dead):
            out[path] = TrainMacs(fwd, 0, 0)
            continue
        bwd = 2 * fwd
        bwd -= sum(flat[p].macs for p in nig if _inside(p, path))
        bwd -= sum(2 * flat[d].macs for d in dead if _inside(d, path))
        if any(_inside(path, u) for u in units):  # inside a checkpointed module
            recompute = fwd - sum(flat[p].macs for p in skips if _inside(p, path))
            recompute = 0 if any(_inside(path, p) for p in skips) else recompute
        else:
            recompute = sum(flat[u].macs for u in units if _inside(u, path))
            recompute -= sum(flat[p].macs for p in skips if _inside(p, path))
        out[path] = TrainMacs(fwd, bwd, recompute)
    return out


def recompute_skips(tape: Tape) -> list[str]:
    """Paths of the operators a recomputation stops at without running: per checkpointed module,
    its last operator that keeps anything, when what it keeps are inputs stored before its kernel
    (torch's non-reentrant checkpoint stops recomputing once every kept tensor is back)."""
    last: dict[int, Event] = {}
    for e in tape.events:
        if e.unit >= 0 and e.packs:
            last[e.unit] = e
    return [e.path for e in last.values() if e.before_kernel]
