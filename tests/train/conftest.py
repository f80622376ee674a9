"""Helpers shared by the training tests: one representative spec per family."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hirisearch.models import get_family
from hirisearch.models.resolution import Size, as_hw
from hirisearch.spec import load_spec
from tests.conftest import SPECS, spec_id, structural_specs

#: One small spec per family, for the tests that simulate or run a step.
FAMILY_SPECS = {
    "vit": SPECS / "deit" / "t.yaml",
    "swin": SPECS / "swin" / "t.yaml",
    "resformer": SPECS / "resformer" / "t.yaml",
    "hiri_vit": SPECS / "hiri_vit" / "s.yaml",
    "hrvit": SPECS / "hrvit" / "b1.yaml",
    "piip": SPECS / "piip" / "tsb_cls_368.yaml",
}


def sized(path: Path, size: Size | None = None) -> tuple[Any, Any, Any]:
    """(family, plan, build) of the spec at ``path`` at ``size`` (default: its first test
    size)."""
    spec = load_spec(path)
    family = get_family(spec.family)
    plan = family.plan(spec, as_hw(size if size is not None else family.test_sizes(spec)[0]))
    return family, plan, partial(family.build, plan)


#: Shipped specs with a layer form no training twin models yet (``train_cost`` raises a
#: ``TrainError`` naming it; tests/train/test_memory.py holds this set to what the twins say).
NOT_MODELLED = {
    "piip_rows/lh6b_det_1280_1024_256.yaml",  # RMSNorm, QK-norm (InternViT-6B branch)
    "piip_rows/lh6b_det_1280_1024_512.yaml",
    "piip_rows/lh6b_det_1280_1024_640.yaml",
    "piip_rows/lh6b_seg_640_512_192.yaml",
    "piip_rows/lh6b_seg_640_512_256.yaml",
    "piip_rows/lh6b_seg_640_512_384.yaml",
    "piip_rows/tsb_det_1120_cross_int1.yaml",  # regular cross-attention interactions
    "piip_rows/tsb_det_1120_cross_int12.yaml",
    "piip_rows/tsb_det_1120_cross_int2.yaml",
    "piip_rows/tsb_det_1120_cross_int4.yaml",
    "piip_rows/tsb_det_1120_cross_int6.yaml",
    "piip_rows/tsb_direction_v1.yaml",  # one-way or non-adjacent interaction units
    "piip_rows/tsb_direction_v2.yaml",
    "piip_rows/tsb_direction_v3.yaml",
    "piip_rows/tsb_direction_v5.yaml",
    "piip_rows/vit_b_seg_640.yaml",  # windowed ViT with layer scale (own blocks)
    "piip_rows/vit_l_seg_640.yaml",
    "vit/internvit_6b.yaml",  # windows, RMSNorm, QK-norm, layer scale
    "vit/vitdet_b.yaml",  # windows with global blocks, layer scale
    "vit/vitdet_l.yaml",
}


def modelled_specs() -> list[Path]:
    """The shipped specs whose every layer form a training twin models."""
    return [p for p in structural_specs() if spec_id(p) not in NOT_MODELLED]


def modelled_params() -> list[Any]:
    """:func:`modelled_specs` as test parameters."""
    return [pytest.param(p, id=spec_id(p)) for p in modelled_specs()]
