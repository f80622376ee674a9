"""The symbols of the analytic training twin (no torch): the settings a tape evaluates at once
(:data:`COLUMNS`), symbolic tensors (:class:`Sym`) and the operators a tape records
(:class:`Event`). :mod:`hirisearch.train.tape` records them; :mod:`hirisearch.train.memory` turns
the events into a peak.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COLUMNS", "F32", "INT64", "LOW", "NCOL", "Event", "Store", "Sym", "Vec"]

#: The settings a tape evaluates: (device kind, autocast or not).
COLUMNS: tuple[tuple[str, bool], ...] = (
    ("cpu", False),
    ("cpu", True),
    ("cuda", False),
    ("cuda", True),
)
NCOL = len(COLUMNS)
F32 = (4,) * NCOL
#: Bytes per element of what runs in the compute precision: fp32, or bf16/fp16 under autocast.
LOW = tuple(2 if low else 4 for _, low in COLUMNS)
INT64 = (8,) * NCOL

Vec = tuple[int, ...]


class Store:
    """One storage (identity only)."""

    __slots__ = ()


@dataclass(eq=False, slots=True)
class Sym:
    """A symbolic tensor: ``n`` elements per sample (0: not per sample, e.g. a parameter),
    ``b`` bytes per element and ``st`` the storage holding it, in each column; ``size`` is the
    storage's bytes per sample (larger than ``n * b`` for a view of a bigger tensor)."""

    n: int
    b: Vec
    st: tuple[Store, ...]
    size: Vec
    grad: bool = True
    param: int = 0  # parameter elements (a parameter used directly: position embedding, scale)
    shared: bool = False  # one tensor for the whole batch (``n`` elements in all)
    strided: bool = False  # a view a matmul cannot flatten (see :meth:`Tape.linear`)
    born: int = -1  # the index of the event of the operator that made it


@dataclass(slots=True)
class Event:
    """One operator in forward order: where it ran (``path``; ``unit``: the index of the
    checkpointed module it ran in, or -1), the bytes per sample it keeps for the backward pass
    (``saved``, per column; inside a checkpointed module, what its recomputation keeps), the
    bytes of autocast parameter copies it keeps (``copies``, per column, not per sample) and the
    parameter elements whose gradients its backward makes."""

    path: str
    saved: Vec
    params: int
    copies: Vec = (0,) * 4
    unit: int = -1
    #: Bytes per sample of the gradients alive while its backward runs (its output's and its
    #: inputs', and those of the model's outputs whose operators' backward has not run yet), per
    #: column.
    scratch: Vec = (0,) * 4
    #: Bytes kept that do not grow with the batch (a tensor computed once for all samples).
    shared: Vec = (0,) * 4
    #: The operator keeps tensors (before deduplication): a recomputation stops after the last
    #: operator that keeps something (torch's checkpoint "early stop").
    packs: bool = False
    #: What it keeps are its inputs, stored before its kernel runs (a matmul, a convolution): a
    #: recomputation stopping at it does not run it.
    before_kernel: bool = False
    #: Bytes per sample alive in the forward pass once it has run, per column: what the
    #: operators so far keep (outside checkpointed modules, unused modules' included) and, kept
    #: by none yet, its inputs, its output and what the module's forward holds (a list of maps).
    forward: Vec = (0,) * 4
