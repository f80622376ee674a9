"""HIRI-ViT's latency-calibration networks (``Family.latency_specs`` of
:mod:`hirisearch.models.hiri_vit`)."""

from __future__ import annotations

from hirisearch.models.base import calibration_specs, network_rows
from hirisearch.models.hiri_vit import HiriViTSpec

#: Latency-calibration networks: (img_size, stem_chs, stages as (block, depth, dim, num_heads,
#: mlp_ratio, sr_ratio), head); shallow, at the widths and sizes searches use.
_H, _T = "hr", "transformer"
_CALIBRATION = (
    (448, 32, ((_H, 1, 32, 0, 4, 1), (_H, 1, 64, 0, 4, 1), (_T, 1, 128, 4, 8, 1),
               (_T, 1, 320, 10, 4, 1), (_T, 1, 448, 14, 4, 1)), "class_attn"),
    (224, 24, ((_H, 1, 24, 0, 4, 1), (_H, 2, 48, 0, 4, 1), (_T, 2, 96, 3, 4, 2),
               (_T, 2, 192, 6, 4, 1), (_T, 1, 384, 12, 4, 1)), "avg"),
    (320, 16, ((_H, 1, 16, 0, 2, 1), (_H, 1, 32, 0, 2, 1), (_H, 1, 64, 0, 2, 1),
               (_T, 2, 160, 5, 8, 1), (_T, 1, 320, 10, 8, 1)), "avg"),
    (512, 16, ((_H, 1, 16, 0, 4, 1), (_T, 1, 32, 1, 4, 2), (_T, 1, 64, 2, 4, 1),
               (_T, 1, 128, 4, 4, 1), (_T, 1, 256, 8, 4, 1)), "avg"),
    (384, 24, ((_H, 2, 24, 0, 2, 1), (_H, 1, 48, 0, 4, 1), (_T, 1, 96, 3, 8, 2),
               (_T, 1, 224, 7, 4, 1), (_T, 2, 448, 14, 4, 1)), "class_attn"),
)  # fmt: skip


def latency_specs() -> tuple[HiriViTSpec, ...]:
    """Configurations whose whole networks calibrate the latency predictor: small ones, also
    timed module by module, then those of ``networks/hiri_vit.yaml``, sized as searches draw them:
    ``Family.latency_specs``."""
    fields = ("block_types", "depths", "dims", "num_heads", "mlp_ratios", "sr_ratios")
    rows = (
        dict(img_size=size, stem_chs=stem, head=head)
        | dict(zip(fields, zip(*stages, strict=True), strict=True))
        for size, stem, stages, head in _CALIBRATION
    )
    return calibration_specs(HiriViTSpec, "hiri_vit", (*rows, *network_rows("hiri_vit")))
