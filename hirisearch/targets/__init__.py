"""What a user can name: a spec file, ``timm:<name>``, ``torchvision:<name>`` or user code."""

from hirisearch.targets.core import (
    EXTERNAL_PREFIXES,
    OUR_CONVENTION,
    Target,
    resolve,
    target_from_spec,
)

__all__ = ["EXTERNAL_PREFIXES", "OUR_CONVENTION", "Target", "resolve", "target_from_spec"]
