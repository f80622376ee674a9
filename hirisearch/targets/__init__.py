"""What a user can name: a spec file, ``timm:<name>``, ``torchvision:<name>`` or user code.

:mod:`.core` holds :class:`Target`, :class:`SizedTarget` and the registry of kinds; each kind is
one module here (:mod:`.spec`, :mod:`.timm`, :mod:`.torchvision`, :mod:`.code`), imported when a
reference of its kind is resolved (``from hirisearch.targets.spec import target_from_spec`` for a
loaded spec).
"""

from hirisearch.targets.core import (
    KINDS,
    OUR_CONVENTION,
    ModelSource,
    Size,
    SizedTarget,
    Target,
    TargetKind,
    as_hw,
    resolve,
    resolve_all,
)

__all__ = [
    "KINDS",
    "OUR_CONVENTION",
    "ModelSource",
    "Size",
    "SizedTarget",
    "Target",
    "TargetKind",
    "as_hw",
    "resolve",
    "resolve_all",
]
