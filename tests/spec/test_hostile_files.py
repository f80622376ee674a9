"""Hostile spec files are refused with one clear line, before any large work is done. (How fast
and how much memory: ``benchmarks/hostile_inputs.py``; tests here check refusal and message.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from hirisearch.errors import SpecError
from hirisearch.spec import load_spec
from hirisearch.spec.load import MAX_ALIASES, MAX_NODES, MAX_SPEC_BYTES
from tests.conftest import SPECS
from tests.fuzzing import assert_refused, run_cli

S_TEXT = (SPECS / "hiri_vit" / "s.yaml").read_text()


def billion_laughs(levels: int = 9, fan: int = 9) -> str:
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels + 1):
        refs = ", ".join(f"*l{i - 1}" for _ in range(fan))
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _refused(tmp_path: Path, content: str | bytes, *words: str) -> str:
    p = tmp_path / "hostile.yaml"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: ") and "\n" not in msg, msg
    for w in words:
        assert w in msg, msg
    line = assert_refused(run_cli(["validate", str(p)], "hostile file"), str(p), *words)
    return line


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, billion_laughs(), f"more than {MAX_ALIASES} alias references")


def test_alias_bomb_inside_a_spec_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, S_TEXT + billion_laughs().replace("l", "x_l"), "alias")


def test_100_mb_spec_is_refused_without_reading_it(tmp_path: Path) -> None:
    p = tmp_path / "huge.yaml"
    with p.open("wb") as f:  # sparse: 100 MB by size, no disk used
        f.truncate(100 * 1024 * 1024)
    with pytest.raises(SpecError, match=f"larger than the {MAX_SPEC_BYTES}-byte limit"):
        load_spec(p)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            "- family: hiri_vit\n- name: x\n",
            "expected a YAML mapping at the top level, but got a list",
        ),
        ("hiri_vit\n", "but got a str"),
        ("3.5\n", "but got a float"),
        ("null\n", "no YAML content"),
        ("# only a comment\n", "no YAML content"),
    ],
)
def test_list_or_scalar_spec_is_refused(tmp_path: Path, content: str, words: str) -> None:
    _refused(tmp_path, content, words)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {sentinel}']",
        "!!python/object/apply:subprocess.call [['touch', '{sentinel}']]",
        "!!python/object/new:os.system ['touch {sentinel}']",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!python/tuple [1, 2]",
    ],
)
def test_python_object_tags_are_refused_and_never_run(tmp_path: Path, tag: str) -> None:
    sentinel = tmp_path / "pwned"
    _refused(
        tmp_path,
        f"family: hiri_vit\nname: {tag.format(sentinel=sentinel)}\n",
        "YAML tag not allowed",
        "line 2",
    )
    assert not sentinel.exists()


def test_too_many_nodes_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, "x: [" + ",".join("1" for _ in range(MAX_NODES)) + "]\n", "YAML nodes")


def test_deep_nesting_names_the_line(tmp_path: Path) -> None:
    _refused(
        tmp_path,
        "family: hiri_vit\ndepths: " + "[" * 100 + "]" * 100 + "\n",
        "line 2",
        "nesting deeper than 32",
    )


def test_duplicate_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    text = S_TEXT + "depths: [1, 1, 1, 1, 1]\n"
    first = 1 + next(i for i, line in enumerate(S_TEXT.splitlines()) if line.startswith("depths:"))
    _refused(tmp_path, text, "duplicate key 'depths'", f"first at line {first}")


def test_merge_keys_and_overrides_are_still_plain_yaml(tmp_path: Path) -> None:
    """``<<: *base`` then overriding a merged key is not a duplicate."""
    q = tmp_path / "merged.yaml"
    q.write_text(
        "{<<: {family: hiri_vit, name: a}, name: b, block_types: [hr], depths: [1], dims: [8], num_heads: [0], mlp_ratios: [4], sr_ratios: [1]}\n"
    )
    assert load_spec(q).name == "b"
