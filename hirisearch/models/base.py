"""What every model family provides: a spec type, a planner, a builder, an analytic cost and the
rule for the input sizes it takes.

A family is one torch-free module (``hirisearch/models/<family>.py``: spec, plan dataclasses,
``plan_<family>``, ``cost_<family>``, ``FAMILY``) and its ``nn.Module`` half
(``<family>_nn.py``: the modules and ``build_<family>``), imported only to build a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from hirisearch.cost.types import CostNode
from hirisearch.errors import FieldError

if TYPE_CHECKING:
    from torch import nn

    from hirisearch.models.resolution import Hw, Size


def _size_check(limit: int | None) -> Callable[[Any], Any]:
    """The check of a spec's ``img_size``: an int or ``[height, width]``, every side positive and
    at most ``limit``."""

    def check(value: int | tuple[int, ...]) -> int | tuple[int, ...]:
        sides = (value,) if isinstance(value, int) else value
        shown = value if isinstance(value, int) else list(value)
        if len(sides) != 2 and not isinstance(value, int):
            raise FieldError("", f"expected an int or [height, width], but got {shown}")
        if min(sides) < 1:
            raise FieldError("", f"every side must be greater than or equal to 1, but got {shown}")
        if limit is not None and max(sides) > limit:
            raise FieldError(
                "", f"every side must be less than or equal to {limit}, but got {shown}"
            )
        return value

    return check


#: A spec's ``img_size`` field: an int (a square, dumped as an int) or ``[height, width]`` (dumped
#: as a list; ``tuple[int, ...]`` so that the spec loader checks each side, the check its length).
if TYPE_CHECKING:
    ImgSize = int | tuple[int, int]
else:
    ImgSize = Annotated[int | tuple[int, ...], AfterValidator(_size_check(None))]


def img_size_field(limit: int) -> Any:
    """:data:`ImgSize` with every side at most ``limit``."""
    return Annotated[int | tuple[int, ...], AfterValidator(_size_check(limit))]


class SpecBase(BaseModel):
    """Base of every family's spec: frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, validate_default=True)

    family: str
    name: str
    description: str = ""
    #: An int (a square) or ``[height, width]``; a spec keeps the form it was written in.
    img_size: ImgSize = 224


@dataclass(frozen=True)
class Convention:
    """Another project's counting path, computed analytically from a plan (e.g. PIIP's own).

    ``cost(plan)`` returns a cost tree whose top-level children carry the plan's section paths;
    its counts follow that project's rules, which ``description`` states in one line. ``shown``:
    the family's own paper counts this way, so ``profile`` reports this total next to ours.
    """

    name: str
    description: str
    cost: Callable[[Any], CostNode]
    shown: bool = True


SpecT = TypeVar("SpecT", bound=SpecBase)
PlanT = TypeVar("PlanT")


@dataclass(frozen=True)
class Family(Generic[SpecT, PlanT]):
    """A model family: ``spec -> plan(spec, img_size) -> (build(plan), cost(plan))``.

    ``plan`` derives every number once; ``build`` and ``cost`` read the plan and nothing else, so
    the parity tests (params == ``numel()``, analytic MACs == traced MACs at every module path)
    hold the two together. A plan is a frozen dataclass with at least ``name``, ``family``,
    ``img_size`` (``(height, width)``), ``input_shape`` ((channels, height, width) of one sample)
    and ``sections`` ((label, module path) of the top-level parts the per-stage table shows, in
    order). Sizes are ``(height, width)`` pairs throughout (:mod:`hirisearch.models.resolution`).
    """

    name: str
    title: str
    spec_type: type[SpecT]
    #: ``plan(spec, img_size)`` with ``img_size`` a ``(height, width)`` pair (``None``: the spec's
    #: own size); raises ``ResolutionError`` for a size ``size_reason`` refuses.
    plan: Callable[[SpecT, Hw | None], PlanT]
    #: ``build(plan, *, device=None, dtype=None) -> nn.Module`` (usually a ``LazyCallable`` into
    #: the family's ``*_nn`` module, so that planning and costing import no torch).
    build: Callable[..., nn.Module]
    cost: Callable[[PlanT], CostNode]
    #: ``size_reason(spec, (height, width))``: why the model cannot take that size (``None``: it
    #: can); a per-axis rule names the refused axis (``resolution.axis_reason``).
    size_reason: Callable[[SpecT, Hw], str | None]
    #: Input sizes the parity tests check every shipped spec of this family at (an int: a
    #: square); at least one non-square size where the family takes any.
    test_sizes: Callable[[SpecT], tuple[Size, ...]] = lambda spec: (224, 448)
    #: A small input size for real forward passes in tests (an int: a square).
    forward_size: Callable[[SpecT], Size] = lambda spec: 64
    #: Other counting conventions this family can report besides ours (``--convention NAME``).
    conventions: tuple[Convention, ...] = ()
    #: Configurations of this family (specs built by keyword, each planned at its own ``img_size``)
    #: whose whole networks calibrate the latency predictor: a few small ones (timed module by
    #: module too) and some sized as searches draw them (:func:`network_rows`); none: the family
    #: is not calibrated on (its predictions use the shared category models alone).
    latency_specs: Callable[[], tuple[Any, ...]] = lambda: ()
    #: ``train(plan, tape)``: the family's training twin (``<family>_train.py``), the operators of
    #: its forward pass on a :class:`hirisearch.train.tape.Tape`, returning the model's output;
    #: none: training memory is simulated, not computed.
    train: Callable[[Any, Any], Any] | None = None
    #: ``train`` also serves the dense plan (returning one ``Sym`` per level, with the dense
    #: form's per-output norms and no classifier), so task models on this family have a twin.
    train_dense: bool = False
    #: ``uncalled_stages(plan)``: module paths holding a list of blocks that the model's forward
    #: never calls as one module (it runs their blocks itself), so activation checkpointing
    #: cannot wrap them as stages (:func:`hirisearch.train.units.checkpoint_units`).
    uncalled_stages: Callable[[Any], tuple[str, ...]] = lambda plan: ()
    #: Entries that take one value per block (``mlp_ratios[3]: [4, 3, 4]``): ``blocks(spec,
    #: path)`` is, for the dotted path of such an entry (``mlp_ratios.3``), the number of blocks
    #: and the path of the field that sets it (``(6, "depths.3")``); None for any other path.
    #: Search spaces read it to expand ``mlp_ratios.3[*]`` into one axis per block.
    blocks: Callable[[SpecT, str], tuple[int, str] | None] = lambda spec, path: None
    #: ``dense(plan)``: the plan of the same backbone in dense form (no classifier, the reference
    #: dense implementation's per-output norms; ``cost`` and ``build`` serve it, the built
    #: module's forward returning one (B, C, H, W) map per level, finest first); none: the
    #: family cannot be put under a task head (``hirisearch.tasks``).
    dense: Callable[[PlanT], PlanT] | None = None
    #: ``pyramid(dense_plan)``: the levels (``hirisearch.tasks.pyramid.Level``) it outputs.
    pyramid: Callable[[PlanT], tuple[Any, ...]] | None = None
    #: ``dense_spec(spec)``: the spec the dense form plans from, where the reference dense
    #: implementation sizes differently (Swin in mmdet/mmseg: a fixed window, padded grids).
    dense_spec: Callable[[SpecT], SpecT] = lambda spec: spec


V = TypeVar("V")


def per_block(value: V | tuple[V, ...], depth: int) -> tuple[V, ...]:
    """The value of each of ``depth`` blocks: a per-block list as given, one value repeated."""
    return tuple(value) if isinstance(value, tuple) else (value,) * depth


def stage_blocks(
    fields: tuple[str, ...], depth: str
) -> Callable[[Any, str], tuple[int, str] | None]:
    """``Family.blocks`` for ``fields`` whose entry ``FIELD.i`` holds stage ``i``'s values, as
    many as ``DEPTH.i`` (``FIELD`` and ``DEPTH`` alone for a model of one stage)."""

    def blocks(spec: Any, path: str) -> tuple[int, str] | None:
        field, _, i = path.partition(".")
        depths = getattr(spec, depth)
        if field not in fields:
            return None
        if isinstance(depths, int):
            return (depths, depth) if not i else None
        if i.isdigit() and int(i) < len(depths):
            return depths[int(i)], f"{depth}.{i}"
        return None

    return blocks


def network_rows(family: str) -> tuple[dict[str, Any], ...]:
    """The rows of ``hirisearch/models/networks/<family>.yaml`` (spec fields of latency-calibration
    networks sized as searches draw them), or none where the family has no such file."""
    import yaml

    path = resources.files("hirisearch.models").joinpath("networks", f"{family}.yaml")
    if not path.is_file():
        return ()
    rows = yaml.safe_load(path.read_text()) or []
    return tuple(dict(r) for r in rows)


def calibration_specs(
    spec_type: type[SpecT], family: str, rows: Iterable[Mapping[str, Any]]
) -> tuple[SpecT, ...]:
    """A family's latency-calibration networks (``Family.latency_specs``) from rows of spec
    fields; each is named ``cal-<img_size>`` unless its row names it."""
    return tuple(
        spec_type.model_validate({"family": family, "name": f"cal-{r['img_size']}", **r})
        for r in rows
    )
