"""The recorder under :class:`~hirisearch.train.tape.Tape` (no torch): where the operators run
(module paths, checkpointed and unused modules, what a module's forward holds) and the
bookkeeping that turns each operator into an :class:`~hirisearch.train.symbolic.Event`: what it
keeps (each storage once), the gradients alive while its backward runs, what is alive in the
forward pass once it has run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from hirisearch.train.symbolic import COLUMNS, NCOL, Event, Store, Sym

__all__ = ["Recorder"]


@dataclass
class Recorder:
    """The state of a tape (:class:`~hirisearch.train.tape.Tape` adds the operators).

    ``units``: module paths that activation checkpointing wraps. Entering one (``module(name,
    inputs=...)``) keeps its inputs, as ``torch.utils.checkpoint`` does; what its operators keep is
    then what their recomputation keeps inside the backward pass.
    """

    units: frozenset[str] = frozenset()
    events: list[Event] = field(default_factory=list)
    #: Module paths whose operators compute no input gradient (they read the image).
    no_input_grad: list[str] = field(default_factory=list)
    #: Module paths whose outputs never reach the loss (no backward, nothing kept at the end).
    dead: list[str] = field(default_factory=list)
    #: Checkpointed module paths in the order they ran.
    unit_paths: list[str] = field(default_factory=list)
    #: Elements of the largest parameter tensor (the CPU optimizer's scratch is twice it).
    largest_param: int = 0
    #: Bytes of buffers (not per sample): batch-norm statistics, index tables, masks.
    buffers: int = 0
    #: Parameter tensors that get gradients (AdamW keeps a step count for each).
    param_tensors: int = 0
    _path: list[str] = field(default_factory=list)
    _saved: tuple[set[Store], ...] = field(default_factory=lambda: tuple(set() for _ in COLUMNS))
    _local: tuple[set[Store], ...] | None = None
    _unit: int = -1
    _dead: int = 0
    _dead_seen: tuple[set[Store], ...] = field(
        default_factory=lambda: tuple(set() for _ in COLUMNS)
    )
    #: Bytes per sample that unused modules keep until the forward pass ends, per column.
    dead_kept: list[int] = field(default_factory=lambda: [0] * NCOL)
    _credited: list[Sym] = field(default_factory=list)
    #: Bytes per sample the forward pass keeps so far (outside checkpointed modules), per column.
    _held: list[int] = field(default_factory=lambda: [0] * NCOL)
    _holding: list[Sym] = field(default_factory=list)
    #: Per tensor read by an operator: the events that made it and last read it, and the bytes
    #: per sample of its gradient, per column.
    _waits: dict[Store, tuple[int, int, list[int]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ structure
    @property
    def path(self) -> str:
        return ".".join(self._path)

    @contextmanager
    def module(self, name: str | int, inputs: Sequence[Sym] = ()) -> Iterator[None]:
        """Operators inside run in the child module ``name`` of the current one, called on
        ``inputs`` (needed only for a module activation checkpointing may wrap)."""
        self._path.append(str(name))
        entered = self._unit < 0 and self.path in self.units
        if entered:
            self._record(inputs)  # checkpoint keeps the module's inputs
            self.unit_paths.append(self.path)
            self._unit = len(self.unit_paths) - 1
            self._local = tuple(set() for _ in COLUMNS)
        try:
            yield
        finally:
            if entered:
                self._unit, self._local = -1, None
            self._path.pop()

    @contextmanager
    def unused(self) -> Iterator[None]:
        """Operators inside do not reach the loss: no backward, nothing kept after the forward."""
        self.dead.append(self.path)
        self._dead += 1
        try:
            yield
        finally:
            self._dead -= 1

    @contextmanager
    def holding(self, xs: Sequence[Sym]) -> Iterator[None]:
        """The module's forward holds ``xs`` (a list of maps it made) while the operators inside
        run: they are alive in the forward pass at each of them."""
        start = len(self._holding)
        self._holding.extend(xs)
        try:
            yield
        finally:
            del self._holding[start:]

    def _tensors(self, count: int) -> None:
        """``count`` parameter tensors that get gradients (not those of unused modules)."""
        if not self._dead:
            self.param_tensors += count

    def _credit(self, p: Sym) -> int:
        """A directly used parameter's elements, the first time an operator reads it (its
        gradient is made once, however many operators read it)."""
        if any(q is p for q in self._credited):
            return 0
        self._credited.append(p)
        return p.param

    @property
    def grad_params(self) -> int:
        """Parameter elements that get gradients (those of unused modules do not)."""
        return sum(e.params for e in self.events)

    # ------------------------------------------------------------------ bookkeeping
    def _record(
        self,
        saved: Sequence[Sym],
        params: int = 0,
        copies: int = 0,
        grads: Sequence[Sym] = (),
        before_kernel: bool = False,
        alive: Sequence[Sym] | None = None,
    ) -> None:
        self._record_columns(
            [saved] * NCOL, params, copies, grads, before_kernel=before_kernel, alive=alive
        )

    # ------------------------------------------------------------------ events
    def _read(self, x: Sym, col: int) -> None:
        """The operator being recorded reads ``x`` in column ``col``: its backward makes the
        gradient of ``x``, which waits, summed, for the backward of the operator that made it."""
        now = len(self.events)
        if x.grad and not x.shared and x.n and 0 <= x.born < now - 1:
            self._wait(x, col, now)

    def _wait(self, x: Sym, col: int, now: int) -> None:
        key = x.st[0]
        born, _, nbytes = self._waits.get(key, (x.born, now, [0] * NCOL))
        nbytes[col] = max(nbytes[col], x.n * x.b[col])
        self._waits[key] = (born, now, nbytes)

    def _settle(self) -> None:
        """Add to each event's scratch the gradients alive while its backward runs that are
        neither its output's nor its inputs': those of tensors made before it and read after it
        (a residual stream, a pyramid's levels, the model's outputs), from their last reader's
        backward to their maker's."""
        change: dict[int, list[int]] = {}
        for born, last, nbytes in self._waits.values():
            for i, sign in ((born + 1, 1), (last, -1)):
                delta = change.setdefault(i, [0] * NCOL)
                for col in range(NCOL):
                    delta[col] += sign * nbytes[col]
        run = (0,) * NCOL
        for i, e in enumerate(self.events):
            step = change.get(i)
            if step is not None:
                run = tuple(r + d for r, d in zip(run, step, strict=True))
            if any(run):
                e.scratch = tuple(g + r for g, r in zip(e.scratch, run, strict=True))

    def _record_columns(
        self,
        per_column: Sequence[Sequence[Sym]],
        params: int = 0,
        copies: int = 0,
        grads: Sequence[Sym] = (),
        column_grads: Sequence[Sequence[Sym]] | None = None,
        before_kernel: bool = False,
        alive: Sequence[Sym] | None = None,
    ) -> None:
        """Record an operator keeping ``per_column[col]`` in each column, whose backward makes
        the gradients of ``params`` elements, and which keeps autocast copies of ``copies``
        parameter elements (matmul and convolution weights). ``grads``: the tensors whose
        gradients its backward holds; ``alive``: the tensors alive when it has run in the
        forward pass (by default the ``grads`` ones: its inputs and output)."""
        total, shared = [0] * NCOL, [0] * NCOL
        for col, xs in enumerate(per_column):
            seen = self._dead_seen[col] if self._dead else self._saved[col]
            local = self._local[col] if self._local and not self._dead else None
            for x in xs:
                key = x.st[col]
                if key in seen or key in self._saved[col] or (local and key in local):
                    continue
                (seen if local is None else local).add(key)
                if self._dead:  # kept until the forward pass ends, then freed unused
                    self.dead_kept[col] += x.size[col] * (not x.shared)
                else:
                    (shared if x.shared else total)[col] += x.size[col]
                if local is None and not x.shared:
                    self._held[col] += x.size[col]
        if self._dead:
            params = copies = 0
        kept = tuple(2 * copies if low else 0 for _, low in COLUMNS)
        per = column_grads if column_grads is not None else [grads] * NCOL
        now, reads = len(self.events), not self._dead
        scratch, forward = [0] * NCOL, [0] * NCOL
        for col in range(NCOL):
            for x in per[col]:
                if x.grad and not x.shared:
                    scratch[col] += x.n * x.b[col]
                    if reads and x.n and 0 <= x.born < now - 1:  # read far from where made
                        self._wait(x, col, now)
            live = per[col] if alive is None else alive
            forward[col] = self._held[col] + self._transient(live, col)
        self.events.append(
            Event(
                self.path,
                tuple(total),
                params,
                kept,
                self._unit,
                tuple(scratch),
                tuple(shared),
                any(per_column),
                before_kernel,
                tuple(forward),
            )
        )

    def _transient(self, xs: Sequence[Sym], col: int) -> int:
        """Bytes per sample of ``xs`` and of what the module holds that nothing keeps yet (each
        storage once; the forward pass keeps the rest)."""
        if not xs and not self._holding:
            return 0
        seen: set[Store] = set()
        saved, dead = self._saved[col], self._dead_seen[col]
        nbytes = 0
        for x in (*xs, *self._holding) if self._holding else xs:
            key = x.st[col]
            if x.shared or key in seen or key in saved or key in dead:
                continue
            seen.add(key)
            nbytes += x.size[col]
        return nbytes
