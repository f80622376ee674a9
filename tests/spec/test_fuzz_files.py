"""Property-based: malformed spec *files* (bytes, not values) are refused by the real CLI with one
line naming the file and, where there is one, the key or the line; never a traceback."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hirisearch.spec.load import MAX_DEPTH
from tests.conftest import shipped_specs
from tests.fuzzing import FUZZ, assert_clean, assert_refused, run_cli

TEXTS = [p.read_text() for p in shipped_specs()]
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]


def _top_keys(text: str, *, inline_only: bool = False) -> list[str]:
    return [
        line.split(":", 1)[0]
        for line in text.splitlines()
        if line
        and line[0].isalpha()
        and ":" in line
        and not (inline_only and not line.split(":", 1)[1].strip())
    ]


@st.composite
def malformed_file(draw: st.DrawFn) -> tuple[bytes, str]:
    """(file bytes, a phrase the error line must contain)."""
    text = draw(st.sampled_from(TEXTS))
    raw = text.encode()
    how = draw(
        st.sampled_from(["utf8", "empty", "duplicate", "top", "tag", "deep", "aliases", "scalar"])
    )
    if how == "utf8":
        at = draw(st.integers(0, len(raw)))
        bad = draw(st.sampled_from(BAD_UTF8))
        return raw[:at] + bad + raw[at:], "not UTF-8"
    if how == "empty":
        blank = draw(st.text(" \n", max_size=20))
        comments = draw(st.lists(st.text("abc xyz#", max_size=10).map(lambda t: "# " + t)))
        body = blank + "\n".join(comments)
        return body.encode(), "empty" if not body.strip() else "no YAML content"
    if how == "duplicate":
        key = draw(st.sampled_from(_top_keys(text)))
        value = draw(st.sampled_from(["1", "[1, 2]", "x", "null"]))
        return (text + f"\n{key}: {value}\n").encode(), f"duplicate key '{key}'"
    if how == "top":
        body = draw(
            st.sampled_from(
                ["- 1\n- 2\n", "42\n", "3.5\n", "hello\n", "true\n", "[family, hiri_vit]\n"]
            )
        )
        return body.encode(), "expected a YAML mapping at the top level"
    if how == "tag":
        # keys with an inline value: a tag before a block sequence is a syntax error instead
        key = draw(st.sampled_from(_top_keys(text, inline_only=True)))
        tag = draw(
            st.sampled_from(
                [
                    "!!python/object/apply:os.system ['true']",
                    "!!python/name:os.system",
                    "!!python/object/new:builtins.dict {}",
                    "!!python/tuple [1, 2]",
                    "!custom 3",
                ]
            )
        )
        lines = [
            f"{key}: {tag}" if line.startswith(f"{key}:") else line for line in text.splitlines()
        ]
        return "\n".join(lines).encode(), "YAML tag not allowed"
    if how == "deep":
        n = draw(st.integers(MAX_DEPTH + 1, 400))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
        return f"family: hiri_vit\ndepths: {opener * n}1{closer * n}\n".encode(), "nesting deeper"
    if how == "aliases":
        n = draw(st.integers(65, 200))
        body = "a: &a [1, 2]\n" + "".join(f"b{i}: *a\n" for i in range(n))
        return body.encode(), "alias"
    n = draw(st.integers(10_001, 20_000))
    return f"family: hiri_vit\ndescription: {'x' * n}\n".encode(), "characters"


@settings(FUZZ, max_examples=250)
@given(case=malformed_file())
def test_malformed_file_is_one_line(tmp_path: Path, case: tuple[bytes, str]) -> None:
    raw, phrase = case
    p = tmp_path / "hostile.yaml"
    p.write_bytes(raw)
    line = assert_refused(run_cli(["validate", str(p)], "malformed file"), f"{p}: ", phrase)
    if phrase.startswith(("nesting", "duplicate", "YAML tag", "characters")):
        assert "line " in line, line  # where in the file


@settings(FUZZ, max_examples=100)
@given(
    text=st.sampled_from(TEXTS),
    at=st.integers(0, 2000),
    junk=st.text(":[]{},&*!|>'\"%@`#-? \t\n\\", min_size=1, max_size=6),
)
def test_damaged_yaml_succeeds_or_fails_cleanly(tmp_path: Path, text: str, at: int, junk: str):
    p = tmp_path / "damaged.yaml"
    p.write_text(text[:at] + junk + text[at:])
    assert_clean(run_cli(["validate", str(p)], "damaged YAML (maybe valid)"))
