"""Property-based: generated malformed search spaces all exit non-zero with one line naming the
file and the field (axis), and never a traceback. The number of cases is reported at the end."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hirisearch.cli import main
from tests.search.conftest import COUNTS, SMALL

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
)
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), TEXT,
    st.lists(st.integers(), max_size=3), st.dictionaries(TEXT, st.integers(), max_size=2),
)  # fmt: skip
AXES = list(SMALL["axes"])


def _doc(**changes: object) -> dict:
    doc = {**SMALL, **changes}
    return {k: v for k, v in doc.items() if v is not _DROP}


_DROP = object()


@st.composite
def malformed(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """(file content, a field the error must name, or None for file-level errors)."""
    kind = draw(st.integers(0, 15))
    if kind == 0:  # an axis path that is not in the spec
        path = draw(st.sampled_from(["depth", "dims.9", "depths.-1", "heads.2", "dims.x", "a..b"]))
        path += draw(st.sampled_from(["", ".0"])) if "." not in path else ""
        doc = _doc(axes={path: {"low": 1, "high": 2}})
        return yaml.safe_dump(doc).encode(), f"axes.{path}"
    if kind == 1:  # an empty range
        axis = draw(st.sampled_from(AXES))
        lo = draw(st.integers(2, 100))
        hi = draw(st.integers(-100, lo - 1))
        return yaml.safe_dump(_doc(axes={axis: {"low": lo, "high": hi}})).encode(), f"axes.{axis}"
    if kind == 2:  # empty / wrong choices
        axis = draw(st.sampled_from(AXES))
        choices = draw(st.sampled_from([[], [[1]], [{"a": 1}], [None], [1, 1]]))
        return yaml.safe_dump(_doc(axes={axis: {"choices": choices}})).encode(), f"axes.{axis}"
    if kind == 3:  # a value the family rejects whatever the other axes are
        axis, bad = draw(
            st.sampled_from(
                [("depths.3", -1), ("depths.3", 0), ("dims.3", 0), ("mlp_ratios.2", -2.0),
                 ("depths.3", "deep"), ("block_types.2", "conv"), ("img_size", 450),
                 ("sr_ratios.3", 0)]
            )
        )  # fmt: skip
        doc = _doc(axes={axis: {"choices": [bad]}})
        return yaml.safe_dump(doc).encode(), f"axes.{axis}"
    if kind == 4:  # an unknown top-level key
        key = draw(TEXT.filter(lambda k: k not in SMALL and k.strip() == k and k.isprintable()))
        return yaml.safe_dump(_doc(**{key: 1})).encode(), key
    if kind == 5:  # a missing required key
        key = draw(st.sampled_from(["base", "axes"]))
        return yaml.safe_dump(_doc(**{key: _DROP})).encode(), key
    if kind == 6:  # wrong types of scalar fields
        key = draw(st.sampled_from(["trials", "seed", "strategy", "img_size"]))
        value = draw(
            JUNK.filter(
                lambda v: (
                    not (isinstance(v, int) and not isinstance(v, bool) and v > 0)
                    and v not in ("random", "tpe", "grid", "nsga2")
                )
            )
        )
        if key == "seed" and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value = -1
        return yaml.safe_dump(_doc(**{key: value})).encode(), key
    if kind == 7:  # bad budgets
        metric = draw(st.sampled_from(["gmacs", "params_m", "flops", "latency"]))
        bounds = draw(st.sampled_from([{"max": 1, "min": 2}, {"maximum": 3}, {}, {"max": "x"}, 5]))
        if metric in ("flops", "latency"):
            bounds = {"max": 1}
        return yaml.safe_dump(_doc(budgets={metric: bounds})).encode(), f"budgets.{metric}"
    if kind == 8:  # bad objectives
        obj = draw(
            st.sampled_from(
                [[{"minimise": "params"}], [{"minimize": "accuracy"}], [{"minimize": 3}],
                 [{"maximize": "no such:f"}], ["params"], [{"minimize": "os.:nope"}]]
            )
        )  # fmt: skip
        return yaml.safe_dump(_doc(objectives=obj)).encode(), "objectives[0]"
    if kind == 9:  # a bad axis definition
        axis = draw(st.sampled_from(AXES))
        spec = draw(st.sampled_from([5, "x", {"low": 1}, {"low": "a", "high": 3},
                                     {"low": 1, "high": 3, "step": -1}, {"low": 1, "high": 3, "log": "y"},
                                     {"choices": [1], "low": 1}, {"low": 0.0, "high": 1.0, "log": True}]))  # fmt: skip
        return yaml.safe_dump(_doc(axes={axis: spec})).encode(), f"axes.{axis}"
    if kind == 10:  # non-UTF-8 bytes
        raw = yaml.safe_dump(_doc()).encode()
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + b"\xff\xfe" + raw[at:], None
    if kind == 11:  # empty or whitespace-only
        return draw(st.sampled_from([b"", b"   \n", b"\n\n"])), None
    if kind == 12:  # deep nesting
        depth = draw(st.integers(40, 200))
        return ("a: " + "[" * depth + "]" * depth + "\n").encode(), None
    if kind == 13:  # not a mapping
        return yaml.safe_dump(draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), TEXT.filter(lambda t: ":" not in t and t.strip() and not t.strip().startswith(("#", "-", "&", "*", "!", "%", "@", "`", "|", ">", "{", "[", "?", "'", '"')))))).encode(), None  # fmt: skip
    if kind == 14:  # a base spec that is not a spec
        base = draw(st.sampled_from([{"family": "nope"}, {"depths": [1]}, 3, ["a"]]))
        field = "base.family" if isinstance(base, dict) else "base"
        return yaml.safe_dump(_doc(base=base)).encode(), field
    # kind 15: YAML syntax errors
    return draw(
        st.sampled_from([b"axes: [1, 2\n", b"a: b: c\n", b"- a\nb: 1\n", b"axes:\n\t- 1\n"])
    ), None


def _run(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(args)
    return code, err.getvalue()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=malformed())
def test_malformed_space_is_one_line_naming_file_and_field(case: tuple[bytes, str | None]) -> None:
    content, field = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "space.yaml"
        path.write_bytes(content)
        code, err = _run(["search", str(path), "--dry-run"])
    COUNTS["malformed search spaces generated"] = (
        COUNTS.get("malformed search spaces generated", 0) + 1
    )
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hirisearch: error: "), err
    assert str(path) in lines[0], err
    if field is not None:
        assert f": {field}: " in lines[0], (field, err)
    COUNTS["tracebacks in malformed-space cases"] = COUNTS.get(
        "tracebacks in malformed-space cases", 0
    )


def test_malformed_cli_arguments_are_usage_errors(tmp_path: Path) -> None:
    from tests.search.conftest import write_space

    space = str(write_space(tmp_path))
    for args in (
        ["search", space, "--trials", "0"],
        ["search", space, "--trials", "many"],
        ["search", space, "--workers", "0"],
        ["search", space, "--max-gflops", "-1", "--dry-run"],
        ["search", space, "--res", "100", "--dry-run"],
        ["search", space, "--storage", "redis://x", "--out", str(tmp_path / "r")],
        ["search"],
    ):
        code, err = _run(args)
        assert code != 0, args
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)


def test_regression_unhashable_strategy(tmp_path: Path) -> None:
    """Shrunk by hypothesis: ``strategy: []`` crashed with "unhashable type: 'list'"."""
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(_doc(strategy=[])))
    code, err = _run(["search", str(path), "--dry-run"])
    assert code == 2
    assert (
        err.strip()
        == f"hirisearch: error: {path}: strategy: unknown strategy []; valid: grid, random, tpe, nsga2, gp, exact"
    )
