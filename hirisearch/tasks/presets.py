"""Task presets: a neck and a head with their settings, at the input size and under the counting
conventions of the published figures they reproduce (``--task PRESET``; ``--res`` overrides the
size)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hirisearch.errors import UnknownModelError
from hirisearch.tasks.pyramid import Hw

#: What every ADE20K segmenter's figures count (mmsegmentation's ``get_flops``: the model's
#: ``forward_dummy``, i.e. backbone, neck and decode head; training-only heads are not run).
_MMSEG = "GFLOPs of one test forward (mmseg forward_dummy): the auxiliary head is not run"


@dataclass(frozen=True)
class TaskPreset:
    """A task: ``head`` (part name, settings) under an optional ``neck`` at ``img_size``
    ((height, width)), and the conventions of its published figures, one line each."""

    name: str
    title: str
    img_size: Hw
    neck: tuple[str, Mapping[str, Any]] | None
    head: tuple[str, Mapping[str, Any]]
    conventions: tuple[str, ...] = field(default=())


_UPERNET_ADE = {"num_classes": 150, "channels": 512, "pool_scales": (1, 2, 3, 6)}

_PRESETS: tuple[TaskPreset, ...] = (
    TaskPreset(
        "ade-upernet",
        "UperNet, ADE20K (150 classes), as mmsegmentation's Swin/ConvNeXt configs",
        (512, 512),
        None,
        ("upernet", _UPERNET_ADE),
        (_MMSEG, "Swin's 945 GFLOPs (Swin-T + UperNet) are counted at 512x2048: --res 512x2048"),
    ),
    TaskPreset(
        "ade-segformer",
        "SegFormer's all-MLP head, ADE20K (150 classes), as HRViT and SegFormer count it",
        (512, 512),
        None,
        ("segformer", {"num_classes": 150, "channels": 256}),
        (_MMSEG,),
    ),
    TaskPreset(
        "ade-segformer-768",
        "SegFormer's all-MLP head with embed_dim 768 (HRViT-b3, SegFormer-B2..B5), ADE20K",
        (512, 512),
        None,
        ("segformer", {"num_classes": 150, "channels": 768}),
        (_MMSEG,),
    ),
    TaskPreset(
        "cityscapes",
        "UperNet, Cityscapes (19 classes), whole 1024x2048 image",
        (1024, 2048),
        None,
        ("upernet", {**_UPERNET_ADE, "num_classes": 19}),
        (_MMSEG,),
    ),
)


#: What every COCO detector's figures count: mmdetection 2.x's ``get_flops`` (mmcv's counter) on
#: the detector's ``forward_dummy``, at an input of exactly the stated size.
_MMDET = "GFLOPs of mmdetection 2.x's get_flops (the detector's forward_dummy) at the stated size"
#: Swin's Cascade Mask R-CNN: three stages of 4conv1fc box heads with BatchNorm (GIoU configs).
_CASCADE_SWIN = {"stages": 3, "box_convs": 4, "box_fcs": 1, "box_norm": "bn"}
#: ViTDet's Mask R-CNN (detectron2): two RPN convs, 4conv1fc box head, LayerNorm in the RoI heads.
_VITDET = {"rpn_convs": 2, "box_convs": 4, "box_fcs": 1, "box_norm": "ln", "mask_norm": "ln"}
#: mmsegmentation's semantic FPN (``fpn_r50`` configs): FPN of 4 levels, BatchNorm scale heads.
_SEMANTIC_FPN = {"num_classes": 150, "channels": 128, "norm": "bn"}

_PRESETS += (
    TaskPreset(
        "coco-maskrcnn",
        "Mask R-CNN with FPN, COCO (80 classes), 1280x800 as Swin counted its 267 GFLOPs",
        (800, 1280),
        ("fpn", {}),
        ("mask_rcnn", {}),
        (_MMDET,),
    ),
    TaskPreset(
        "coco-maskrcnn-1333",
        "Mask R-CNN with FPN, COCO (80 classes), 1333x800 (mmdetection's test scale)",
        (800, 1333),
        ("fpn", {}),
        ("mask_rcnn", {}),
        (_MMDET,),
    ),
    TaskPreset(
        "coco-cascade",
        "Cascade Mask R-CNN with FPN (Swin's 4conv1fc BN box heads), COCO, 1280x800",
        (800, 1280),
        ("fpn", {}),
        ("mask_rcnn", _CASCADE_SWIN),
        (_MMDET,),
    ),
    TaskPreset(
        "coco-vitdet",
        "ViTDet: simple feature pyramid + Mask R-CNN (LayerNorm heads), COCO, 1024x1024",
        (1024, 1024),
        ("sfp", {}),
        ("mask_rcnn", _VITDET),
        ("ViTDet's detectron2 model at its padded 1024x1024 input; heads as mmdetection counts",),
    ),
    TaskPreset(
        "ade-fpn",
        "Semantic FPN, ADE20K (150 classes), 512x512, as mmsegmentation's fpn configs",
        (512, 512),
        ("fpn", {"num_outs": 4}),
        ("semantic_fpn", _SEMANTIC_FPN),
        (_MMSEG,),
    ),
    TaskPreset(
        "cityscapes-fpn",
        "Semantic FPN, Cityscapes (19 classes), whole 1024x2048 image",
        (1024, 2048),
        ("fpn", {"num_outs": 4}),
        ("semantic_fpn", {**_SEMANTIC_FPN, "num_classes": 19}),
        (_MMSEG,),
    ),
)


def _registry(presets: tuple[TaskPreset, ...]) -> dict[str, TaskPreset]:
    out: dict[str, TaskPreset] = {}
    for p in presets:
        if p.name in out:
            raise ValueError(f"task preset {p.name!r} is defined twice")
        out[p.name] = p
    return out


#: Every task preset by name.
PRESETS: dict[str, TaskPreset] = _registry(_PRESETS)


def get_preset(name: str) -> TaskPreset:
    """The preset called ``name``, or an error listing the valid names."""
    if name not in PRESETS:
        raise UnknownModelError(
            f"unknown task preset {name!r}; valid: {', '.join(sorted(PRESETS))}"
        )
    return PRESETS[name]
