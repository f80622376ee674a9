"""What a user can name on the command line: a spec file or ``timm:<name>``.

A :class:`Target` hides where a model comes from. Spec targets have an analytic cost; targets
without one (external models) are counted by the traced counter only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hirisearch.cost.types import CostNode
from hirisearch.errors import CountingError, HirisearchError, SpecError
from hirisearch.lazy import LazyCallable
from hirisearch.models import Family, get_family
from hirisearch.models.base import Convention, SpecBase
from hirisearch.spec import load_spec

if TYPE_CHECKING:
    from torch import nn

#: The name of hirisearch's own counting convention (``--convention ours``).
OUR_CONVENTION = "ours"


@dataclass(frozen=True)
class Target:
    """A model the tools can plan, build and count at any input size it takes."""

    ref: str
    name: str
    family: str
    default_img_size: int
    spec: SpecBase | None = None
    _family: Family | None = None
    _external: Any = (
        None  # a resolver for models without a spec (see :mod:`hirisearch.targets.timm`)
    )

    @property
    def has_analytic(self) -> bool:
        return self._family is not None

    def plan(self, img_size: int | None = None) -> Any:
        """The model plan at ``img_size``; resolution errors name the spec file."""
        if self._family is None:
            return None
        try:
            return self._family.plan(self.spec, img_size)
        except SpecError as e:
            raise e.located(self.ref) from None

    def cost(self, plan: Any) -> CostNode | None:
        return None if self._family is None else self._family.cost(plan)

    def convention(self, name: str) -> Convention | None:
        """This model's counting ``name`` (``None`` for ours); an error lists the valid names."""
        if name == OUR_CONVENTION:
            return None
        found = {c.name: c for c in (self._family.conventions if self._family else ())}
        if name not in found:
            valid = ", ".join([OUR_CONVENTION, "fvcore", *found])
            raise CountingError(
                f"convention {name!r} is not available for {self.ref}; valid: {valid}"
            )
        return found[name]

    def builder(self, img_size: int | None = None, plan: Any = None) -> Callable[..., nn.Module]:
        """A callable ``(device=None, dtype=None) -> nn.Module`` building this model."""
        if self._family is not None:
            return partial(self._family.build, plan if plan is not None else self.plan(img_size))
        return partial(self._external.build, img_size or self.default_img_size)

    def input_shape(self, img_size: int | None = None, plan: Any = None) -> tuple[int, int, int]:
        if self._family is not None:
            return (plan if plan is not None else self.plan(img_size)).input_shape
        return self._external.input_shape(img_size or self.default_img_size)

    def sections(self, plan: Any = None) -> tuple[tuple[str, str], ...] | None:
        return plan.sections if plan is not None else None


#: Resolvers for ``prefix:name`` references (``timm:resnet50``), imported when a reference uses
#: the prefix: naming a spec file imports none of them.
EXTERNAL_PREFIXES: dict[str, Callable[[str], Target]] = {
    "timm": LazyCallable("hirisearch.targets.timm", "resolve_timm"),
}


def target_from_spec(spec: SpecBase, ref: str) -> Target:
    return Target(
        ref=ref,
        name=spec.name,
        family=spec.family,
        default_img_size=spec.img_size,
        spec=spec,
        _family=get_family(spec.family),
    )


def resolve(ref: str, **options: Any) -> Target:
    """Turn a command-line reference (a spec path, ``prefix:name``, ``torchvision:<name>``,
    ``module.path:callable`` or ``file.py:callable``) into a :class:`Target`.

    ``options`` (``kwargs``, ``input_shape``) are for code targets (:mod:`hirisearch.targets.code`).
    """
    from hirisearch.targets.code import is_code_ref, resolve_code

    prefix, sep, rest = ref.partition(":")
    external = sep and prefix in EXTERNAL_PREFIXES and not Path(ref).exists()
    if not external and is_code_ref(ref):
        return resolve_code(ref, **options)
    if any(options.values()):
        raise HirisearchError(f"{ref}: kwargs and input_shape apply to code targets only")
    if external:
        return EXTERNAL_PREFIXES[prefix](rest)
    return target_from_spec(load_spec(ref), ref)
