"""What a user can name on the command line, and that model at one input size.

A :class:`Target` is a reference (``specs/s.yaml``, ``timm:resnet50``, ``torchvision:vit_b_16``,
``my_net.py:build``) and the :class:`ModelSource` of its kind, which carries everything that
differs between kinds. ``target.at(img_size)`` is the model at one size: a frozen
:class:`SizedTarget` with its input shape, its plan and analytic cost tree (spec targets; ``None``
for models counted by the traced counter only) and ``build(device=None, dtype=None)``.

The kinds of target are the explicit registry :data:`KINDS`: one module of this package per kind,
named here by one line and imported only when a reference of that kind is resolved (naming a spec
file imports no model zoo). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hirisearch.cost.types import CostNode
from hirisearch.errors import CountingError, HirisearchError, UnknownModelError
from hirisearch.lazy import LazyCallable
from hirisearch.models.base import Convention
from hirisearch.models.resolution import Size, as_hw, size_value

if TYPE_CHECKING:
    from torch import nn

    from hirisearch.targets.inputs import InputSpec, Instance

#: The name of hirisearch's own counting convention (``--convention ours``).
OUR_CONVENTION = "ours"


class ModelSource(Protocol):
    """What one kind of target knows: its name, its family label, its counting conventions, and
    the model at a size. Implemented once per kind (:mod:`.spec`, :mod:`.timm`,
    :mod:`.torchvision`, :mod:`.code`)."""

    @property
    def name(self) -> str:
        """The model's display name."""
        ...

    @property
    def family(self) -> str:
        """A spec's family, or ``<kind>:<architecture>`` (``timm:SwinTransformer``)."""
        ...

    @property
    def conventions(self) -> tuple[Convention, ...]:
        """Other counting conventions than ours this model can report (a family's own)."""
        ...

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        """The model at ``img_size`` (``None``: its own size); refused sizes raise
        :class:`ResolutionError`."""
        ...

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> nn.Module:
        """The ``nn.Module`` of ``sized`` (imports torch)."""
        ...

    def out_grid(self, sized: SizedTarget) -> tuple[int, int] | None:
        """The grid of the last stage's output, where known without running the model."""
        ...

    # A source whose model comes with its own example inputs (a model object, a factory that
    # returns them) also defines ``instance(sized, *, device, batch) -> Instance``: the model to
    # count and the arguments of its forward (see :meth:`SizedTarget.instance`).


@dataclass(frozen=True)
class Target:
    """A model the tools can plan, build and count at any input size it takes."""

    ref: str
    source: ModelSource

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def family(self) -> str:
        return self.source.family

    def at(self, img_size: Size | None = None) -> SizedTarget:
        """This model at ``img_size``: an int ``R`` is ``R x R``, a pair is ``(height, width)``,
        ``None`` the model's own size. Resolution errors name the spec file."""
        return self.source.at(self, None if img_size is None else as_hw(img_size))

    def convention(self, name: str) -> Convention | None:
        """This model's counting ``name`` (``None`` for ours); an error lists the valid names."""
        if name == OUR_CONVENTION:
            return None
        found = {c.name: c for c in self.source.conventions}
        if name not in found:
            valid = ", ".join([OUR_CONVENTION, "fvcore", *found])
            raise CountingError(
                f"convention {name!r} is not available for {self.ref}; valid: {valid}"
            )
        return found[name]


@dataclass(frozen=True)
class SizedTarget:
    """One target at one input size: everything the operations read about it.

    ``img_size`` is ``(height, width)``; ``plan`` and ``tree`` (the analytic ``CostNode`` tree of
    one sample) are ``None`` for models without an analytic cost, which the traced counter counts.
    ``input_shape`` is one sample's shape of the first input; ``inputs`` describes every input
    (``None``: one float32 tensor of ``input_shape``, as for every image model).
    """

    target: Target
    img_size: tuple[int, int]
    input_shape: tuple[int, ...]
    plan: Any = None
    tree: CostNode | None = None
    inputs: InputSpec | None = None

    @property
    def resolution(self) -> int | tuple[int, int]:
        """The ``img_size`` results and documents hold: the side of a square size (an int, as
        documents have always had it), ``(height, width)`` otherwise
        (:func:`~hirisearch.models.resolution.size_value`)."""
        return size_value(self.img_size)

    @property
    def sections(self) -> tuple[tuple[str, str], ...] | None:
        """(label, module path) of the plan's top-level parts; ``None`` without a plan."""
        return self.plan.sections if self.plan is not None else None

    @property
    def out_grid(self) -> tuple[int, int] | None:
        """The grid of the last stage's output (``None`` where unknown before running)."""
        return self.target.source.out_grid(self)

    @property
    def input_spec(self) -> InputSpec:
        """Every input of the forward pass (:mod:`hirisearch.targets.inputs`)."""
        from hirisearch.targets.inputs import InputSpec

        return self.inputs if self.inputs is not None else InputSpec.image(self.input_shape)

    def build(self, device: Any = None, dtype: Any = None) -> nn.Module:
        """The randomly initialised ``nn.Module`` (``device="meta"``: without memory)."""
        return self.target.source.build(self, device=device, dtype=dtype)

    def instance(self, device: Any = None, *, batch: int = 1) -> Instance:
        """The model to run and the arguments of one forward pass, on ``device`` (``meta``:
        without memory): ``build`` and :func:`~hirisearch.targets.inputs.materialise`, unless
        the source brings its own (a model object, a factory returning example inputs)."""
        own = getattr(self.target.source, "instance", None)
        if own is not None:
            return own(self, device=device, batch=batch)  # type: ignore[no-any-return]
        from hirisearch.targets.inputs import Instance, materialise

        model = self.build(device=device)
        args, kwargs = materialise(self.input_spec, device or "cpu", batch=batch)
        return Instance(model, args, kwargs)


# ------------------------------------------------------------------------------- the kinds
@dataclass(frozen=True)
class TargetKind:
    """One kind of target: the module that resolves it and how a reference is recognised.

    ``module`` defines ``source(text, **options) -> ModelSource``, given the reference without its
    prefix. A reference is of a ``prefix`` kind when it reads ``<prefix>:<name>`` (and is not an
    existing file); kinds without a prefix are tried in registry order with ``matches``.
    """

    name: str
    module: str
    form: str  # how a reference of this kind is written, for error messages
    prefix: str | None = None
    matches: Callable[[str], bool] | None = None
    takes_options: bool = False  # --kwargs / --input-shape apply

    def claims(self, ref: str) -> bool:
        if self.prefix is not None:
            return ref.startswith(self.prefix + ":") and not Path(ref).exists()
        return self.matches is not None and self.matches(ref)

    def source(self, ref: Any, **options: Any) -> ModelSource:
        """The source of ``ref`` (a reference, or the object a kind without a text form takes)."""
        text = ref[len(self.prefix) + 1 :] if self.prefix is not None else ref
        return LazyCallable(self.module, "source")(text, **options)  # type: ignore[no-any-return]


def is_code_ref(ref: str) -> bool:
    """``module.path:callable`` or ``file.py:callable``, and not an existing file."""
    head, sep, tail = ref.rpartition(":")
    return bool(sep and head and tail) and not Path(ref).exists()


class KindRegistry:
    """Kind name -> :class:`TargetKind`: an explicit table, duplicates refused, a miss lists the
    valid names."""

    def __init__(self, kinds: Sequence[TargetKind] = ()) -> None:
        self._kinds: dict[str, TargetKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: TargetKind) -> TargetKind:
        """Add ``kind``; a second kind of the same name or prefix is an error. Prefix kinds are
        matched before the others, so a new one is never shadowed by the catch-all kinds."""
        if kind.name in self._kinds:
            raise ValueError(f"target kind {kind.name!r} is already registered")
        if kind.prefix is not None and any(k.prefix == kind.prefix for k in self._kinds.values()):
            raise ValueError(f"target prefix {kind.prefix!r}: is already registered")
        self._kinds[kind.name] = kind
        return kind

    def unregister(self, name: str) -> None:
        """Remove a kind added with :meth:`register` (tests register toy kinds)."""
        if name in _BUILTIN_NAMES:
            raise ValueError(f"target kind {name!r} is built in")
        self._kinds.pop(name, None)

    def __getitem__(self, name: str) -> TargetKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownModelError(
                f"unknown target kind {name!r}; valid: {', '.join(self._kinds)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def kind_of(self, ref: str) -> TargetKind:
        """The kind a reference names: a prefix kind first, then the others in order."""
        ordered = sorted(self._kinds.values(), key=lambda k: k.prefix is None)
        for kind in ordered:
            if kind.claims(ref):
                return kind
        forms = ", ".join(k.form for k in self._kinds.values())
        raise UnknownModelError(f"{ref}: expected {forms}")


#: Every kind of target. A new kind is one module of this package and one line here.
KINDS = KindRegistry(
    [
        TargetKind("timm", "hirisearch.targets.timm", "timm:<name>", prefix="timm"),
        TargetKind(
            "torchvision",
            "hirisearch.targets.torchvision",
            "torchvision:<name>",
            prefix="torchvision",
            takes_options=True,
        ),
        TargetKind(
            "code",
            "hirisearch.targets.code",
            "module.path:callable, file.py:callable",
            matches=is_code_ref,
            takes_options=True,
        ),
        TargetKind("spec", "hirisearch.targets.spec", "a spec file", matches=lambda ref: True),
        TargetKind("module", "hirisearch.targets.module", "an nn.Module object (Python API)"),
    ]
)
_BUILTIN_NAMES = frozenset(KINDS)


def resolve(
    ref: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    input_shape: Any = None,
) -> Target:
    """Turn a reference (a spec path, ``timm:<name>``, ``torchvision:<name>``,
    ``module.path:callable`` or ``file.py:callable``) into a :class:`Target`.

    ``kwargs`` (for the factory) and ``input_shape`` are for the kinds that take them (code and
    ``torchvision:`` targets). ``input_shape`` is one sample's shape of any rank (``(3, 224,
    224)``, ``(77,)``), a list of them (one per positional input; ``"int64:77"`` gives a dtype),
    an :class:`~hirisearch.targets.inputs.InputSpec`, or example inputs made by
    :func:`~hirisearch.targets.inputs.from_example`.

    Raises:
        HirisearchError: options given for a kind that takes none; the kind's own errors.
    """
    kind = KINDS.kind_of(ref)
    if kind.takes_options:
        from hirisearch.targets.inputs import as_input_spec

        spec = as_input_spec(input_shape)
        return Target(ref, kind.source(ref, kwargs=dict(kwargs or {}), input_shape=spec))
    if kwargs or input_shape:
        raise HirisearchError(f"{ref}: kwargs and input_shape apply to code targets only")
    return Target(ref, kind.source(ref))


def resolve_all(
    refs: Sequence[str],
    *,
    kwargs: Mapping[str, Any] | None = None,
    input_shape: Any = None,
) -> list[Target]:
    """Resolve every reference; ``kwargs`` and ``input_shape`` go to the kinds among them that
    take them (factories and ``torchvision:``); spec and ``timm:`` targets are unaffected.

    Raises:
        HirisearchError: ``kwargs`` or ``input_shape`` given but no reference takes them.
    """
    takes = [KINDS.kind_of(r).takes_options for r in refs]
    if (kwargs or input_shape) and not any(takes):
        given = " and ".join(
            n for n, v in (("--kwargs", kwargs), ("--input-shape", input_shape)) if v
        )
        raise HirisearchError(
            f"{given} apply to factory (module:callable, file.py:callable) and torchvision: "
            f"targets, but none was given (got {', '.join(refs)})"
        )
    return [
        resolve(r, kwargs=kwargs, input_shape=input_shape) if t else resolve(r)
        for r, t in zip(refs, takes, strict=True)
    ]
