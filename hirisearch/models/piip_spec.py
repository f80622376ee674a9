"""The PIIP spec (``family: piip``): branches, interactions and output; see :mod:`.piip`.

Z. Zhu, H. Wang, et al., "Parameter-Inverted Image Pyramid Networks", NeurIPS 2024,
arXiv 2406.04330; code: OpenGVLab/PIIP (read for facts, not copied).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hirisearch.errors import FieldError
from hirisearch.layers.interaction import InteractionAttn, Update
from hirisearch.layers.vit import TokenNorm
from hirisearch.models.base import ImgSize, SpecBase
from hirisearch.models.resolution import AXES, as_hw

GN_GROUPS = 32


def _shown(img_size: int | tuple[int, ...]) -> int | list[int]:
    """An ``img_size`` as the YAML writes it: an int or ``[height, width]``."""
    return img_size if isinstance(img_size, int) else list(img_size)


class PIIPBranchSpec(BaseModel):
    """One plain-ViT branch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The branch's input size: an int (a square) or ``[height, width]``.
    img_size: ImgSize
    dim: int = Field(ge=1)
    depth: int = Field(ge=1)
    num_heads: int = Field(ge=1)
    mlp_ratio: float = Field(4.0, gt=0)
    #: 0: global attention in every layer; > 0: window attention of this size.
    window_size: int = Field(0, ge=0)
    #: With windows: every ``global_every``-th layer (k-1, 2k-1, ...) attends globally; 0: none.
    global_every: int = Field(0, ge=0)
    #: Layer (0-based) after which each interaction runs; default: evenly spaced.
    interaction_layers: tuple[int, ...] | None = None
    #: Bias on the q/k/v projection; ``null``: the model's ``qkv_bias``.
    qkv_bias: bool | None = None
    #: Token norms: LayerNorm, or RMSNorm (InternViT-6B).
    norm: TokenNorm = "ln"
    #: Normalise queries and keys over the full width (InternViT-6B's QK-norm).
    qk_norm: bool = False
    #: The branch runs its MLP as one fused kernel (flash-attn's ``FusedMLP``): the same model and
    #: cost, but the PIIP repository's counter cannot see it (``--convention piip`` leaves it out).
    fused_mlp: bool = False


class InteractionUnitSpec(BaseModel):
    """One interaction unit between branches ``a`` < ``b`` (0-based), updating both or one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    a: int = Field(ge=0)
    b: int = Field(ge=1)
    #: ``both``: bidirectional (the paper's unit); ``a``: only ``b`` is injected into ``a``;
    #: ``b``: only ``a`` into ``b``.
    update: Update = "both"


class PIIPSpec(SpecBase):
    """A PIIP configuration; ``branches[0]`` is branch 1 (largest model, smallest image)."""

    family: Literal["piip"]
    img_size: ImgSize
    in_chans: int = Field(3, ge=1)
    patch_size: int = Field(16, ge=1)
    branches: tuple[PIIPBranchSpec, ...] = Field(min_length=2, max_length=4)
    cls_token: bool = True
    qkv_bias: bool = True
    #: Initial value of the blocks' layer-scale vectors; ``null``: no layer scale.
    layer_scale: float | None = Field(1.0, gt=0)
    interactions: int = Field(12, ge=0)
    #: Interaction attention: deformable (the paper's) or regular multi-head cross-attention.
    interaction_attn: InteractionAttn = "deformable"
    #: The units of every interaction, in the order they run; default: one bidirectional unit
    #: per pair of adjacent branches, last pair first.
    interaction_units: tuple[InteractionUnitSpec, ...] | None = Field(None, min_length=1)
    #: Heads of the interaction attention (deformable or regular).
    deform_num_heads: int = Field(16, ge=1)
    deform_points: int = Field(4, ge=1)
    deform_ratio: float = Field(0.5, gt=0)
    cffn_ratio: float = Field(0.25, gt=0)
    output: Literal["classification", "merged", "dense"] = "classification"
    num_classes: int = Field(1000, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _default_img_size(cls, data: object) -> object:
        if isinstance(data, dict) and "img_size" not in data:
            branches = data.get("branches")
            if isinstance(branches, (list, tuple)) and branches and isinstance(branches[-1], dict):
                return {**data, "img_size": branches[-1].get("img_size")}
        return data

    @model_validator(mode="after")
    def _check(self) -> PIIPSpec:
        for i, b in enumerate(self.branches):
            self._check_branch(i, b)
        self._check_units()
        if as_hw(self.img_size) != as_hw(self.branches[-1].img_size):
            raise FieldError(
                "img_size",
                f"is the last branch's resolution; `img_size == branches[-1].img_size` must hold, "
                f"but got img_size={_shown(self.img_size)}, branches[-1].img_size="
                f"{_shown(self.branches[-1].img_size)}",
            )
        return self

    def _check_branch(self, i: int, b: PIIPBranchSpec) -> None:
        at = f"branches[{i}]"
        heads = self.deform_num_heads
        for axis, side in zip(AXES, as_hw(b.img_size), strict=True):
            if side % self.patch_size:
                on = "" if isinstance(b.img_size, int) else f" on each axis ({axis} {side})"
                raise FieldError(
                    f"{at}.img_size",
                    f"`img_size % patch_size == 0` must hold{on}, but got "
                    f"img_size={_shown(b.img_size)}, patch_size={self.patch_size}",
                )
        if b.dim % b.num_heads:
            raise FieldError(
                f"{at}.num_heads",
                f"`dim % num_heads == 0` must hold, but got dim={b.dim}, num_heads={b.num_heads}",
            )
        deformable = self.interaction_attn == "deformable"
        if self.interactions and (
            b.dim % heads or (deformable and int(b.dim * self.deform_ratio) % heads)
        ):
            need = "`dim` and `int(dim * deform_ratio)`" if deformable else "`dim`"
            raise FieldError(
                f"{at}.dim",
                f"{need} must be divisible by deform_num_heads={heads}, but got dim={b.dim}, "
                f"deform_ratio={self.deform_ratio}",
            )
        if self.output != "classification" and b.dim % GN_GROUPS:
            raise FieldError(
                f"{at}.dim",
                f"the {self.output} output uses GroupNorm({GN_GROUPS}); `dim % {GN_GROUPS} == 0` "
                f"must hold, but got dim={b.dim}",
            )
        if b.window_size and self.cls_token:
            raise FieldError(
                f"{at}.window_size",
                "window attention takes no class token; set `cls_token: false` or "
                f"`window_size: 0`, but got window_size={b.window_size}",
            )
        if b.global_every and not b.window_size:
            raise FieldError(
                f"{at}.global_every",
                f"applies to window attention only, but got window_size=0, "
                f"global_every={b.global_every}",
            )
        layers = b.interaction_layers
        if layers is None:
            if self.interactions > b.depth:
                raise FieldError(
                    "interactions",
                    f"`interactions <= depth` must hold for every branch (or give "
                    f"interaction_layers), but got interactions={self.interactions}, "
                    f"{at}.depth={b.depth}",
                )
        elif (
            len(layers) != self.interactions
            or any(not 0 <= x < b.depth for x in layers)
            or any(x >= y for x, y in zip(layers, layers[1:], strict=False))
        ):
            raise FieldError(
                f"{at}.interaction_layers",
                f"{self.interactions} strictly increasing layer indices in [0, {b.depth}) are "
                f"expected, but got {list(layers)}",
            )

    def _check_units(self) -> None:
        units = self.interaction_units
        if units is None:
            return
        n = len(self.branches)
        seen = set()
        for j, u in enumerate(units):
            if not u.a < u.b < n:
                raise FieldError(
                    f"interaction_units[{j}]",
                    f"`0 <= a < b < {n}` (branch indices) must hold, but got a={u.a}, b={u.b}",
                )
            if (u.a, u.b) in seen:
                raise FieldError(
                    f"interaction_units[{j}]",
                    f"each pair of branches takes one unit, but got ({u.a}, {u.b}) twice",
                )
            seen.add((u.a, u.b))
