"""Spec loading: every kind of bad input is one SpecError naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from hirisearch.errors import SpecError
from hirisearch.spec import load_spec
from tests.conftest import SPECS, shipped_specs, spec_id

S = SPECS / "hiri_vit" / "s.yaml"


def _write(tmp_path: Path, data: object, name: str = "bad.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def _base() -> dict:
    return yaml.safe_load(S.read_text())


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_shipped_specs_load(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name
    with pytest.raises(ValidationError):  # frozen
        spec.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda d: d.update(depthz=[1]), "depthz", "unknown key"),
        (lambda d: d.update(depths=[2, 3, -1, 6, 3]), "depths[2]", ">= 1"),
        (
            lambda d: d.update(num_heads=[0, 0, 3, 10, 14]),
            "num_heads[2]",
            "dims[2] % num_heads[2] == 0",
        ),
        (lambda d: d.update(dims=[32, 64, "wide", 320, 448]), "dims[2]", "integer"),
        (lambda d: d.update(depths=[2, 3, 4]), "block_types", "len(block_types) == len(depths)"),
        (lambda d: d.update(family="hiri"), "family", "valid: hiri_vit"),
        (lambda d: d.pop("family"), "family", "missing"),
        (lambda d: d.pop("dims"), "dims", "missing"),
        (lambda d: d.update(sr_ratios=[2, 1, 1, 1, 1]), "sr_ratios[0]", "transformer stages only"),
        (lambda d: d.update(act="tanh"), "act", "gelu"),
        (lambda d: d.update(drop_path_rate=1.5), "drop_path_rate", "less than 1"),
    ],
)
def test_invalid_spec_names_file_and_field(tmp_path: Path, edit, field: str, words: str) -> None:
    d = _base()
    edit(d)
    p = _write(tmp_path, d)
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: {field}: "), msg
    assert words in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("family: hiri_vit\ndepths: [1, 2\n", "YAML syntax error: line 3"),
        ("", "empty"),
        ("- 1\n- 2\n", "mapping at the top level, but got a list"),
        ("42\n", "but got a int"),
        ("a: &a [1]\n" + "".join(f"b{i}: *a\n" for i in range(100)), "alias"),
        ("x: !!python/object/apply:os.system ['true']\n", "YAML tag not allowed"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: str, words: str) -> None:
    p = _write(tmp_path, content)
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    assert str(exc.value).startswith(str(p)) and words in str(exc.value), str(exc.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00family")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(p)
    with pytest.raises(SpecError, match="directory"):
        load_spec(tmp_path)
