"""Spec files: YAML -> validated, frozen, typed config."""

from hirisearch.spec.load import load_spec, parse_spec, read_yaml

__all__ = ["load_spec", "parse_spec", "read_yaml"]
