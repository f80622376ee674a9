"""The counting convention, in one place.

hirisearch reports MACs: one multiply-add counted once, attention matmuls (Q.K^T and A.V, per
window for windowed attention) included, classification head included, at a stated input size and
batch. This is the convention of the vision papers whose tables we reproduce ("GFLOPs" = GMACs).

Normalisation layers are counted separately, as fvcore counts them, because that is how the
authors of Wave-ViT / Dual-ViT / HIRI-ViT counted: BatchNorm at inference 2 per element (affine),
LayerNorm and GroupNorm 5 per element (affine; 4 without). Activations, softmax and residual adds
are not counted by anybody's published numbers, nor here.

torch's ``FlopCounterMode`` (and DeepSpeed, calflops) count 2 FLOPs per MAC; only this module knows
that, and :func:`macs_from_torch_flops` is the one place that converts.
"""

from __future__ import annotations

from typing import Final, Literal

from hirisearch.models.resolution import size_dims

CONVENTION: Final = "GFLOPs = GMACs, multiply-add counted once, attention included"
CONVENTION_2X: Final = "GFLOPs = 2 x GMACs (FLOPs, multiply and add counted separately)"
TORCH_FLOPS_PER_MAC: Final = 2

#: ``--convention fvcore``: what fvcore's ``FlopCountAnalysis`` adds to the MACs (its handles).
CONVENTION_FVCORE: Final = (
    "GFLOPs as fvcore counts them: GMACs + norms (BN 2, LN/GN 5 per element) + upsampling and "
    "adaptive pooling; attention included"
)
FVCORE_UPSAMPLE_NEAREST: Final = 1
FVCORE_UPSAMPLE_BILINEAR: Final = 4
FVCORE_GRID_SAMPLE: Final = 4

BN_PER_ELEMENT: Final = 2
LN_PER_ELEMENT: Final = 5
GN_PER_ELEMENT: Final = 5

Unit = Literal["macs", "flops"]


def macs_from_torch_flops(flops: int) -> int:
    """Convert a ``FlopCounterMode`` count (2 per multiply-add) to MACs."""
    return flops // TORCH_FLOPS_PER_MAC


def torch_flops_from_macs(macs: int) -> int:
    """Convert MACs (a user's count of an operator) to ``FlopCounterMode``'s scale."""
    return macs * TORCH_FLOPS_PER_MAC


def headline(
    img_size: int | tuple[int, int] | list[int],
    batch: int,
    dtype: str = "fp32",
    unit: Unit = "macs",
) -> str:
    """The header every table carries: convention, input size (``448x448``, ``800x1280``), batch
    and dtype."""
    conv = CONVENTION if unit == "macs" else CONVENTION_2X
    return f"{conv}; input {size_dims(img_size)}, batch {batch}, {dtype}"
