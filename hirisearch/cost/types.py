"""Cost records and the cost tree keyed by module path.

A :class:`Cost` holds integer counts of one module (or a whole model) at a fixed input:

- ``params``: parameters.
- ``conv``, ``linear``, ``attn``, ``other``: multiply-accumulates (MACs) per operator category;
  ``attn`` is the attention matmuls (Q.K^T and A.V), ``other`` any other counted matmul-like work.
- ``norm``: normalisation work, counted as fvcore counts it (see :mod:`hirisearch.cost.convention`);
  reported beside the MACs, never inside them.
- ``acts``: activations, the number of output elements of every conv, linear and attention matmul
  (the pycls definition), a proxy for memory traffic.

A :class:`CostNode` is the cost of a module plus the costs of its named children; the names are
the attribute names of the built ``nn.Module``, so ``node.flatten()`` is keyed by the same module
paths as ``model.named_modules()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Cost", "CostNode", "ZERO"]


@dataclass(frozen=True, slots=True)
class Cost:
    """Integer cost counts of one module at one input size (batch 1 unless scaled)."""

    params: int = 0
    conv: int = 0
    linear: int = 0
    attn: int = 0
    other: int = 0
    norm: int = 0
    acts: int = 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates of conv, linear, attention and other matmul work (norms excluded)."""
        return self.conv + self.linear + self.attn + self.other

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.params + other.params,
            self.conv + other.conv,
            self.linear + other.linear,
            self.attn + other.attn,
            self.other + other.other,
            self.norm + other.norm,
            self.acts + other.acts,
        )

    def scaled(self, batch: int) -> Cost:
        """The cost of a batch: every per-sample count times ``batch``, parameters unchanged."""
        return Cost(
            self.params,
            self.conv * batch,
            self.linear * batch,
            self.attn * batch,
            self.other * batch,
            self.norm * batch,
            self.acts * batch,
        )


ZERO = Cost()


@dataclass(frozen=True, slots=True)
class CostNode:
    """Cost of one module: its own cost plus its named children.

    ``total`` always includes the children. Nodes are immutable and may be shared between parents
    (identical blocks of a stage reuse one node), which keeps the analytic model fast.
    """

    total: Cost
    children: tuple[tuple[str, CostNode], ...] = ()
    out_shape: tuple[int, ...] = ()

    @staticmethod
    def leaf(cost: Cost, out_shape: tuple[int, ...] = ()) -> CostNode:
        return CostNode(cost, (), out_shape)

    @staticmethod
    def of(
        children: tuple[tuple[str, CostNode], ...] | list[tuple[str, CostNode]],
        *,
        own: Cost = ZERO,
        out_shape: tuple[int, ...] | None = None,
    ) -> CostNode:
        """A node whose total is ``own`` plus its children's; ``out_shape`` defaults to the last child's."""
        # One pass over the fields instead of a Cost per addition: this is the analytic model's
        # hot loop (a stage repeats one shared block node ``depth`` times).
        if children:
            params, conv, linear, attn, other, norm, acts = (
                own.params,
                own.conv,
                own.linear,
                own.attn,
                own.other,
                own.norm,
                own.acts,
            )
            for _, child in children:
                c = child.total
                params += c.params
                conv += c.conv
                linear += c.linear
                attn += c.attn
                other += c.other
                norm += c.norm
                acts += c.acts
            total = Cost(params, conv, linear, attn, other, norm, acts)
        else:
            total = own
        if out_shape is None:
            out_shape = children[-1][1].out_shape if children else ()
        return CostNode(total, tuple(children), out_shape)

    def child(self, path: str) -> CostNode:
        """The node at a dotted path below this one (``"stages.2.blocks.0"``)."""
        node = self
        for part in path.split("."):
            for name, sub in node.children:
                if name == part:
                    node = sub
                    break
            else:
                raise KeyError(path)
        return node

    def walk(
        self, prefix: str = "", max_depth: int | None = None
    ) -> Iterator[tuple[str, CostNode]]:
        """Yield ``(path, node)`` for this node's descendants, parents before children."""
        for name, sub in self.children:
            path = f"{prefix}.{name}" if prefix else name
            yield path, sub
            if max_depth is None or max_depth > 1:
                yield from sub.walk(path, None if max_depth is None else max_depth - 1)

    def flatten(self) -> dict[str, Cost]:
        """Total cost per module path, the root under ``""``."""
        out = {"": self.total}
        out.update((path, node.total) for path, node in self.walk())
        return out
