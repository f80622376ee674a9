"""The analytic twin of a training step's forward pass (no torch): what every operator keeps for
the backward pass, at the dtype it keeps it in, and when.

A family's training twin (``hirisearch/models/<family>_train.py``) walks its plan and calls the
operators below in the order the model's ``forward`` runs them, on symbolic tensors
(:class:`Sym`: elements per sample, bytes per element, and which storage holds them). The tape
evaluates four settings at once, one per :data:`COLUMNS` entry (device kind x precision), because
autocast's lists, the attention kernel and so the dtypes differ between them; ``fp16`` costs what
``bf16`` does.

What each operator saves is torch's autograd formula for it (``derivatives.yaml``): a linear or
convolution keeps its (autocast) input; LayerNorm and GroupNorm their input and two fp32
statistics per row; batch norm its input; GELU, SiLU and Hardswish their input, ReLU its output;
softmax its output; the fused attention kernels query, key, value, output and an fp32 log-sum-exp
per query; the math attention path (always computed in fp32) the scaled query and key, the
probabilities and the value; ``grid_sample`` its input and grid; average pooling its input; a
product with a parameter (layer scale) the other factor. Additions, concatenations, paddings,
interpolation and views keep nothing. A storage kept by several operators counts once.

The operators are here; where they run and what each event records (kept, gradients alive in its
backward, alive in the forward pass) is :mod:`hirisearch.train.recorder`; the symbols
(:class:`Sym`, :class:`Event`, :data:`COLUMNS`) are :mod:`hirisearch.train.symbolic`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hirisearch.train.policy import FP32, LOWER, PROMOTE, attention_kernel
from hirisearch.train.recorder import Recorder
from hirisearch.train.symbolic import COLUMNS, F32, INT64, LOW, NCOL, Event, Store, Sym, Vec

# The symbols are re-exported: the twins import them from here with the tape.
__all__ = ["COLUMNS", "F32", "INT64", "LOW", "Event", "Sym", "Tape"]


@dataclass
class Tape(Recorder):
    """Operators of one forward pass, recorded for every column at once (:class:`Recorder`:
    where they run and what each keeps)."""

    # ------------------------------------------------------------------ tensors
    def new(self, n: int, b: Vec, *, grad: bool = True, shared: bool = False) -> Sym:
        """A tensor in a storage of its own (``shared``: one for the whole batch)."""
        st = tuple(Store() for _ in COLUMNS)
        return Sym(n, b, st, tuple(n * x for x in b), grad, shared=shared, born=len(self.events))

    def image(self, n: int) -> Sym:
        """The input batch: fp32, needing no gradient (held between steps, so never counted)."""
        x = self.new(n, F32, grad=False)
        for col, s in enumerate(x.st):
            self._saved[col].add(s)
        return x

    def parameter(self, count: int) -> Sym:
        """A parameter used directly by an operator (not through a linear, conv or norm)."""
        x = self.new(0, F32)
        x.param = count
        self.largest_param = max(self.largest_param, count)
        self._tensors(1)
        for col, s in enumerate(x.st):
            self._saved[col].add(s)  # parameters are model state, not activations
        return x

    @staticmethod
    def view(x: Sym, n: int | None = None, *, strided: bool = False) -> Sym:
        """A view of ``x`` (``n`` elements of the same storage; ``strided``: one a matmul cannot
        flatten, such as the patch tokens past a class token)."""
        n = x.n if n is None else n
        return Sym(n, x.b, x.st, x.size, x.grad, shared=x.shared, strided=strided, born=x.born)

    def copy(self, x: Sym, n: int | None = None) -> Sym:
        """A new tensor computed from ``x`` that keeps nothing: a contiguous copy (``reshape``
        of a non-contiguous view), ``pad``, ``roll``, a product with a number, interpolation,
        a mean (``n``: its elements per sample, when not ``x``'s)."""
        out = self.new(x.n if n is None else n, x.b, grad=x.grad)
        self._record([], grads=[x, out])
        return out

    def _cast(self, x: Sym, to: Vec | None, names: Mapping[str, frozenset[str]], op: str) -> Sym:
        """``x`` as the operator ``op`` receives it under autocast: cast to ``to`` in the
        columns whose device lists ``op`` (a new storage where the dtype changes)."""
        b, st, size = list(x.b), list(x.st), list(x.size)
        for col, (device, low) in enumerate(COLUMNS):
            if not low or op not in names[device] or to is None or x.b[col] == to[col]:
                continue
            b[col], st[col], size[col] = to[col], Store(), x.n * to[col]
        return Sym(x.n, tuple(b), tuple(st), tuple(size), x.grad, x.param, x.shared, born=x.born)

    def low(self, x: Sym, op: str = "torch.nn.functional.linear") -> Sym:
        return self._cast(x, LOW, LOWER, op)

    def f32(self, x: Sym, op: str) -> Sym:
        return self._cast(x, F32, FP32, op)

    @staticmethod
    def widest(*xs: Sym) -> Vec:
        return tuple(max(x.b[col] for x in xs) for col in range(NCOL))

    # ------------------------------------------------------------------ operators
    def linear(self, x: Sym, in_f: int, out_f: int, *, bias: bool = True) -> Sym:
        """``F.linear`` on ``x`` (``n`` = tokens x ``in_f``); keeps its input: the whole tensor
        when ``x`` is a view its matmul can flatten, else (``x.strided``) a contiguous copy, or
        the autocast cast."""
        xin = self.low(self.new(x.n, x.b) if x.strided else x)
        self.largest_param = max(self.largest_param, in_f * out_f)
        self._tensors(1 + bias)
        out = self.new(x.n // in_f * out_f, LOW)
        self._record([xin], in_f * out_f + (out_f if bias else 0), in_f * out_f, [xin, out], True)
        return out

    def conv(
        self, x: Sym, in_c: int, out_c: int, k: int, out_n: int, *, groups: int = 1, bias: bool
    ) -> Sym:
        """A 2-D convolution to ``out_n`` elements per sample; keeps its input."""
        xin = self._cast(x, LOW, LOWER, "torch.nn.functional.conv2d")
        weights = out_c * (in_c // groups) * k * k
        self.largest_param = max(self.largest_param, weights)
        self._tensors(1 + bias)
        out = self.new(out_n, LOW, shared=x.shared)
        self._record([xin], weights + (out_c if bias else 0), weights, [xin, out], True)
        return out

    def layer_norm(self, x: Sym, dim: int, *, affine: bool = True) -> Sym:
        """``F.layer_norm`` over the last ``dim``; keeps its input and fp32 mean and rstd."""
        xin = self.f32(x, "torch.nn.functional.layer_norm")
        stats = self.new(2 * (x.n // dim), F32)
        self._tensors(2 if affine else 0)
        out = self.new(x.n, xin.b)
        self._record([xin, stats], 2 * dim if affine else 0, grads=[xin, out])
        return out

    def group_norm(self, x: Sym, channels: int, groups: int) -> Sym:
        """``F.group_norm``; keeps its input and a mean and rstd per group (in its dtype)."""
        xin = self.f32(x, "torch.nn.functional.group_norm")
        stats = self.new(2 * groups, xin.b)
        self._tensors(2)
        out = self.new(x.n, xin.b)
        self._record([xin, stats], 2 * channels, grads=[xin, out])
        return out

    def batch_norm(self, x: Sym, channels: int) -> Sym:
        """Training-mode batch norm; keeps its input and the batch's statistics (per channel, not
        per sample). Its running statistics are buffers."""
        self.buffers += 8 * channels + 8
        self._tensors(2)
        stats = self.new(2 * channels, F32, shared=True)  # the batch's mean and 1/std
        out = self.new(x.n, x.b)
        self._record([x, stats], 2 * channels, grads=[x, out])
        return out

    def act(self, x: Sym, kind: Literal["gelu", "relu", "silu", "hardswish"]) -> Sym:
        out = self.new(x.n, x.b)
        self._record([out if kind == "relu" else x], grads=[x, out])
        return out

    def softmax(self, x: Sym) -> Sym:
        """An explicit ``softmax``; keeps its output (fp32 under CUDA autocast)."""
        xin = self.f32(x, "torch.Tensor.softmax")
        out = self.new(x.n, xin.b)
        self._record([out], grads=[xin, out])
        return out

    def add(self, a: Sym, b: Sym) -> Sym:
        """``a + b`` (dtype promotion: fp32 if either is); keeps nothing."""
        shared = a.shared and b.shared
        out = self.new(max(a.n, b.n), self.widest(a, b), shared=shared)
        self._record([], alive=[a, b, out])
        return out

    def scale(self, x: Sym, gamma: Sym, *, scalar: bool = False) -> Sym:
        """``gamma * x`` with a parameter ``gamma`` (layer scale); keeps ``x``. ``scalar``:
        ``gamma`` is one element of a parameter, a 0-dim tensor, so the product keeps ``x``'s
        dtype (type promotion)."""
        out = self.new(x.n, x.b if scalar else self.widest(x, gamma))
        self._record([x], self._credit(gamma), grads=[x, out])
        return out

    def buffer(self, nbytes: int) -> None:
        """A buffer of the model (an index table, a fixed mask)."""
        self.buffers += nbytes

    def use_param(self, p: Sym) -> None:
        """A parameter read by an operator that keeps nothing (position embedding, token)."""
        self._record([], self._credit(p))

    def drop_path(self, x: Sym, rate: float, *, mask_n: int = 1) -> Sym:
        """Stochastic depth while training: ``x * mask`` keeps the per-sample mask (``mask_n``
        elements per sample, in ``x``'s dtype: ``nn.Dropout2d``'s (B, C, 1, 1) noise)."""
        if rate <= 0:
            return x
        mask = self.new(mask_n, x.b, grad=False)
        out = self.new(x.n, x.b)
        self._record([mask], grads=[x, out])
        return out

    def cat(self, xs: Sequence[Sym], n: int | None = None) -> Sym:
        """``torch.cat`` (autocast promotes the inputs first); keeps nothing. ``n``: elements
        per sample of the result, when a part is a parameter expanded over the batch."""
        widest = self.widest(*xs)
        for x in xs:
            self._cast(x, widest, PROMOTE, "torch.cat")
        out = self.new(sum(x.n for x in xs) if n is None else n, widest)
        self._record([], alive=[*xs, out])
        return out

    def keep(self, *xs: Sym, params: int = 0) -> None:
        """Operators that keep exactly ``xs`` (e.g. a matmul keeping both operands)."""
        self._record(list(xs), params)

    def matmul(self, a: Sym, b: Sym, out_n: int) -> Sym:
        """``torch.matmul`` of two activations; keeps both (autocast) inputs."""
        a2, b2 = self.low(a, "torch.matmul"), self.low(b, "torch.matmul")
        out = self.new(out_n, LOW)
        self._record([a2, b2], grads=[a2, b2, out], before_kernel=True)
        return out

    def grid_sample(self, value: Sym, grid: Sym, out_n: int) -> Sym:
        """``F.grid_sample``; keeps input and grid (fp32 on the CPU, widest on CUDA)."""
        op = "torch.nn.functional.grid_sample"
        v, g = self.f32(value, op), self.f32(grid, op)
        widest = self.widest(v, g)
        v, g = self._cast(v, widest, PROMOTE, op), self._cast(g, widest, PROMOTE, op)
        out = self.new(out_n, widest)
        self._record([v, g], grads=[v, g, out])
        return out

    def avg_pool(self, x: Sym, out_n: int) -> Sym:
        """Average pooling; keeps its input (its backward reads the input's shape from it)."""
        out = self.new(out_n, x.b)
        self._record([x], grads=[x, out])
        return out

    def attention(
        self,
        q: Sym,
        k: Sym,
        v: Sym,
        *,
        heads: int,
        nq: int,
        nk: int,
        head_dim: int,
        ndim: int = 4,
        mask: Literal["none", "fixed", "learned"] = "none",
        mask_shape_ok: bool = True,
        v_copied: bool = True,
    ) -> Sym:
        """``F.scaled_dot_product_attention`` over ``heads`` x ``nq`` queries (per sample; several
        windows count as more heads) and ``nk`` keys, on each column's kernel.

        Returns the output with its heads merged back into tokens (``out.transpose(1, 2)`` and a
        reshape): a view where a fused kernel ran (they write their output in that layout), a
        copy where the math path did. ``v_copied``: the math path's batched matmul copies the
        value (its reshape cannot view it; true of a projection's output split into heads
        unless there is one head)."""
        op = "torch.nn.functional.scaled_dot_product_attention"
        qc, kc, vc = self.low(q, op), self.low(k, op), self.low(v, op)
        out = self.new(heads * nq * head_dim, LOW)
        merged = list(out.st)
        saved: list[list[Sym]] = []
        grads: list[list[Sym]] = []
        for device, low in COLUMNS:
            dtype = "bf16" if low else "fp32"
            kind, kernel = attention_kernel(
                device,  # type: ignore[arg-type]
                dtype,  # type: ignore[arg-type]
                ndim=ndim,
                head_dim=head_dim,
                mask=mask,
                mask_shape_ok=mask_shape_ok,
            )
            if kind == "fused":
                rows = heads * (-(-nq // 32) * 32 if kernel == "efficient" else nq)
                lse = self.new(rows, F32)
                # CUDA kernels also keep their random-number state: 3 or 2 int64 scalars
                rng = self.new({"flash": 3, "efficient": 2}.get(kernel, 0), INT64, shared=True)
                saved.append([qc, kc, vc, out, lse, rng])
                grads.append([qc, kc, vc, out])
            else:  # the math path computes in fp32: scaled q and k, probabilities, the value
                qs, ks = self.new(q.n, F32), self.new(k.n, F32)
                probs = self.new(heads * nq * nk, F32)
                vv = self.new(v.n, F32) if low or v_copied else vc
                saved.append([qs, ks, probs, vv])
                grads.append([probs, probs, qs, ks, vv, out])
                merged[len(saved) - 1] = Store()
        self._record_columns(saved, column_grads=grads)
        return Sym(out.n, out.b, tuple(merged), out.size, born=out.born)

    def loss(self, outs: Sequence[Sym]) -> None:
        """The stand-in loss (:mod:`hirisearch.train.loss`): ``out.float().pow(2).mean()`` keeps
        the fp32 output (a copy where the output is in low precision).

        Its backward runs first, one output at a time from the last (the autograd engine runs
        the most recently created node first). ``pow``'s backward, ``grad * (2 * x.pow(1))``,
        holds four fp32 tensors of the output's size beside the saved ``x``: the incoming
        gradient (``mean``'s, expanded), ``x.pow(1)``, the product with 2 and the result; the
        gradients of the outputs already done stay alive, each in its output's dtype, until
        their operators' backward."""
        for out in outs:
            b = list(out.b)
            st = list(out.st)
            size = list(out.size)
            for col in range(NCOL):
                if b[col] != 4:
                    b[col], st[col], size[col] = 4, Store(), out.n * 4
            scratch = [self.new(out.n, F32, grad=out.grad) for _ in range(4)]
            kept = Sym(out.n, tuple(b), tuple(st), tuple(size))
            # forward: every output is alive (the model returned them) and the square
            for col in range(NCOL):
                self._read(out, col)
            self._record([kept], grads=scratch, alive=[*outs, scratch[0]])
        self._settle()
