"""Property-based: malformed command lines for every registered command are refused by the real
entry point with one line naming the option, command or file at fault; never a traceback.

Commands and their options are enumerated from the Typer app, so commands added later are fuzzed
with no new test code. Every generated command line carries one poison that is invalid by
construction (an unknown command or option, a non-integer or too-small value for an integer option,
an option missing its value, a missing required argument, a bad spec file); the rest is valid.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st

from hirisearch.cli import app
from tests.conftest import SPECS
from tests.fuzzing import FUZZ, assert_refused, run_cli

GROUP = typer.main.get_command(app)
COMMANDS = dict(sorted(GROUP.commands.items()))  # type: ignore[attr-defined]
S = str(SPECS / "hiri_vit" / "s.yaml")
#: Commands whose positional arguments are spec files (they get bad-file poisons too).
SPEC_COMMANDS = ("profile", "validate")


def _options(cmd) -> list:  # noqa: ANN001
    return [p for p in cmd.params if p.param_type_name == "option" and not p.hidden]


def _is_int(annotation: object) -> bool:
    """``int``, ``int | None``, ``list[int]`` (Typer's view of an option's Python type)."""
    if annotation is int:
        return True
    return any(_is_int(a) for a in typing.get_args(annotation))


def _int_options(cmd) -> list:  # noqa: ANN001
    return [p for p in _options(cmd) if _is_int(p.type_descriptor.annotation)]


def _valued_options(cmd) -> list:  # noqa: ANN001
    return [p for p in _options(cmd) if not p.is_flag and not p.count]


def _not_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return not text.startswith("-")  # "-x" could be read as an option
    return False


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """(path, phrase) of spec files every spec command must refuse."""
    d = tmp_path_factory.mktemp("bad")
    files = {
        "empty.yaml": (b"", "empty"),
        "list.yaml": (b"- 1\n", "mapping"),
        "binary.yaml": (b"\xff\xfe\x00\x01", "not UTF-8"),
        "syntax.yaml": (b"family: [\n", "YAML syntax error"),
        "family.yaml": (b"family: nope\nname: x\n", "unknown family"),
        "unknown.yaml": (Path(S).read_bytes() + b"colour: red\n", "colour: unknown key"),
    }
    out = []
    for name, (raw, phrase) in files.items():
        (d / name).write_bytes(raw)
        out.append((str(d / name), phrase))
    out.append((str(d / "missing.yaml"), "file not found"))
    out.append((str(d), "directory"))
    return out


@st.composite
def bad_argv(draw: st.DrawFn, bad_files: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(argv, words the error line must contain)."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    cmd = COMMANDS[name]
    groups: list[list[str]] = []
    if name in SPEC_COMMANDS:
        groups.append([S])
    if name == "profile":
        groups += [["--no-trace"], ["--json"]]
    poisons = ["unknown_command", "unknown_option"]
    if _int_options(cmd):
        poisons += ["bad_int", "below_min"]
    if _valued_options(cmd):
        poisons.append("missing_value")
    if any(p.param_type_name == "argument" and p.required for p in cmd.params):
        poisons.append("missing_argument")
    if name in SPEC_COMMANDS:
        poisons += ["bad_file", "bad_file"]
    if name == "profile":
        poisons += ["bad_res", "bad_counter"]
    poison = draw(st.sampled_from(poisons))
    words: list[str]
    if poison == "unknown_command":
        word = draw(st.text("abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=12))
        word = word if word not in COMMANDS and not word.startswith("-") else "zz" + word
        return [word, *sum(groups, [])], ["No such command", word]
    if poison == "unknown_option":
        opt = "--zz" + draw(st.text("abcdefghijklmnopqrstuvwxyz-", max_size=10))
        bad = [opt]
        words = ["No such option", opt]
    elif poison in ("bad_int", "below_min"):
        p = draw(st.sampled_from(_int_options(cmd)))
        opt = draw(st.sampled_from(p.opts))
        if poison == "bad_int":
            value = draw(st.text(min_size=1, max_size=10).filter(_not_int))
        else:
            low = p.min
            if low is None:
                value = draw(st.text("xyz", min_size=1))
            else:
                value = str(low - draw(st.integers(1, 10**6)))
        bad = [f"{opt}={value}"]
        words = [opt]
    elif poison == "missing_value":
        opt = draw(st.sampled_from(draw(st.sampled_from(_valued_options(cmd))).opts))
        argv = [name, *sum(draw(st.permutations(groups)), []), opt]
        return argv, ["requires an argument", opt]
    elif poison == "missing_argument":
        return [name, *(g for grp in groups if grp[0].startswith("-") for g in grp)], ["Missing"]
    elif poison == "bad_file":
        path, phrase = draw(st.sampled_from(bad_files))
        bad = [path]
        words = [path, phrase]
    elif poison == "bad_res":
        value = draw(st.sampled_from(["0", "450", "100", str(2**21), str(10**30), "31"]))
        bad = ["--res", value]
        words = ["res" if value in ("0", str(2**21), str(10**30)) else "img_size"]
    else:
        names = draw(st.lists(st.sampled_from(["fvcore", "thop", "ptflops"]), max_size=2))
        junk = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8))
        junk = "zz" + junk
        bad = ["--counters", ",".join([*names, junk])]
        words = ["--counters", junk]
    groups.append(bad)
    return [name, *sum(draw(st.permutations(groups)), [])], words


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_malformed_command_line_is_one_line(
    bad_files: list[tuple[str, str]], data: st.DataObject
) -> None:
    argv, words = data.draw(bad_argv(bad_files))
    assert_refused(run_cli(argv, "malformed argv"), *words)
