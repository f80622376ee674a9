"""``timm:<name>`` models as task backbones: their ``features_only`` maps, counted by tracing.

timm builds any model that declares its feature maps (``feature_info``: channels and reduction
of each) as a features-only network (the classifier, and a ViT's final norm, pruned) that returns
the chosen maps. The dense form takes, of the levels at stride 4 or coarser, the last map of each
stride and at most the last four (ResNet and EfficientNet: strides 4-32, their stride-2 map
left out; ConvNeXt and Swin: their four stages; a plain ViT: its last block, one stride-16
level, which a simple feature pyramid neck fans out). timm models have no analytic cost: the
backbone's part of the task model's cost tree is the traced count of the features network
(params exact by construction), and the neck's and head's are analytic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hirisearch.cost.types import CostNode
from hirisearch.errors import SpecError
from hirisearch.lazy import LazyCallable
from hirisearch.models.base import Family, SpecBase
from hirisearch.tasks.pyramid import Hw, Level, Pyramid

if TYPE_CHECKING:
    from hirisearch.cost.types import Cost

#: The finest stride a dense form keeps, and how many levels at most.
MIN_STRIDE, MAX_LEVELS = 4, 4


@dataclass(frozen=True)
class TimmDensePlan:
    """A ``timm:`` model's features-only network at one input size."""

    name: str  # the timm model name
    family: str  # ``timm:<model class>``
    img_hw: Hw
    in_chans: int
    takes_img_size: bool
    out_indices: tuple[int, ...]  # into the model's ``feature_info``
    levels: Pyramid

    @property
    def img_size(self) -> Hw:
        return self.img_hw

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.img_hw)

    @property
    def sections(self) -> tuple[tuple[str, str], ...]:
        return ()


def dense_levels(info: list[dict[str, Any]]) -> tuple[int, ...]:
    """The indices into ``feature_info`` the dense form outputs: the last map of each stride
    >= :data:`MIN_STRIDE`, at most the last :data:`MAX_LEVELS`."""
    last: dict[int, int] = {}
    for i, f in enumerate(info):
        if f["reduction"] >= MIN_STRIDE:
            last[f["reduction"]] = i
    return tuple(sorted(last.values()))[-MAX_LEVELS:]


def plan_timm_dense(name: str, img_hw: Hw) -> TimmDensePlan:
    """The dense plan of ``timm:<name>`` at ``img_hw`` (its feature maps read on the meta device).

    Raises:
        SpecError: the model declares no feature maps (timm cannot make it ``features_only``).
    """
    from hirisearch.targets.timm import timm_model

    model = timm_model(name)  # unknown names list the closest ones
    info = _feature_info(name)
    if not info:
        raise SpecError(
            f"timm:{name} declares no feature maps (feature_info), so timm cannot build it "
            "features_only and it cannot be put under a task head",
            field="backbone",
        )
    out = dense_levels(info)
    levels = tuple(
        Level(info[i]["num_chs"], _grid(img_hw, info[i]["reduction"]), info[i]["reduction"])
        for i in out
    )
    return TimmDensePlan(
        name, model.family, img_hw, model.in_chans, model.takes_img_size, out, levels
    )


def _grid(img_hw: Hw, stride: int) -> Hw:
    return (-(-img_hw[0] // stride), -(-img_hw[1] // stride))


@lru_cache(maxsize=64)
def _feature_info(name: str) -> list[dict[str, Any]]:
    import timm

    from hirisearch.cost.meta import MetaBuild

    with MetaBuild():
        model = timm.create_model(name, pretrained=False, device="meta")
    info = getattr(model, "feature_info", None) or []
    return [dict(f) for f in info if isinstance(f, dict) and "num_chs" in f]


def cost_timm_dense(plan: TimmDensePlan) -> CostNode:
    """The traced count of the features network as a cost tree keyed by its module paths."""
    from hirisearch.cost.counters import count_traced

    traced = count_traced(
        lambda device=None, dtype=None: build_timm_dense(plan, device=device, dtype=dtype),
        plan.input_shape,
        with_acts=True,
    )
    return traced_tree(traced.per_path)


def traced_tree(per_path: dict[str, Cost]) -> CostNode:
    """A cost tree from per-module-path costs: each path under its nearest counted ancestor
    (a child's name may hold dots where a module between them counted nothing)."""
    kids: dict[str, list[str]] = {}
    for path in per_path:
        if not path:
            continue
        parent = path
        while parent:
            parent = parent.rpartition(".")[0]
            if parent in per_path:
                break
        kids.setdefault(parent, []).append(path)

    def node(path: str) -> CostNode:
        children = tuple((c[len(path) + 1 :] if path else c, node(c)) for c in kids.get(path, []))
        return CostNode(per_path[path], children)

    return node("")


def _from_spec(spec: SpecBase, size: Hw | None) -> TimmDensePlan:
    raise SpecError("a timm: backbone has no spec; plan it by name (plan_timm_dense)")


#: ``build_timm_dense(plan, *, device=None, dtype=None)``: the features network (imports torch).
build_timm_dense: Any = LazyCallable("hirisearch.tasks.timm_backbone_nn", "build_timm_dense")

#: The family-like record the task model reads for a ``timm:`` backbone (not registered).
TIMM_DENSE: Family[SpecBase, TimmDensePlan] = Family(
    name="timm",
    title="timm features_only",
    spec_type=SpecBase,
    plan=_from_spec,
    build=build_timm_dense,
    cost=cost_timm_dense,
    size_reason=lambda spec, size: None,
    dense=lambda plan: plan,
    pyramid=lambda plan: plan.levels,
)
