"""What a user can name: a spec file, ``timm:<name>``, ``torchvision:<name>``, user code, or (in
Python) an ``nn.Module`` object with its inputs.

:mod:`.core` holds :class:`Target`, :class:`SizedTarget` and the registry of kinds; each kind is
one module here (:mod:`.spec`, :mod:`.timm`, :mod:`.torchvision`, :mod:`.code`, :mod:`.module`),
imported when a reference of its kind is resolved (``from hirisearch.targets.spec import
target_from_spec`` for a loaded spec). :mod:`.inputs` describes the inputs of a forward pass.
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
