"""The search front in the terminal reads well at 80 columns (the width Rich uses for a pipe or a
log) and uses the width it is given: no header cut to an ellipsis, no cell wrapped inside a
word, one column per quantity."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console

from hirisearch.ops.search.launch import baseline_row
from hirisearch.ops.search.options import SearchOptions
from hirisearch.ops.search.run import run_search
from hirisearch.ops.search.space import load_space
from hirisearch.report import format as fmt
from hirisearch.report.search_words import changed_fields
from hirisearch.report.terminal.search import ParetoTable
from tests.conftest import SPECS
from tests.search.conftest import S_SPEC, write_space
from tests.search.test_exact import synthetic_calibration

#: HIRI-ViT-S at 448 with the axes of specs/search/hiri_vit_5g.yaml, two values each (4,096
#: configurations): the changes of a front configuration are long lists, as in the shipped space.
SPACE: dict[str, Any] = {
    "base": str(S_SPEC),
    "img_size": 448,
    "axes": {
        "depths.1": {"choices": [1, 2]},
        "depths.2": {"choices": [2, 4]},
        "depths.3": {"choices": [6, 9]},
        "depths.4": {"choices": [1, 4]},
        "dims.2": {"choices": [96, 128]},
        "dims.3": {"choices": [320, 384]},
        "dims.4": {"choices": [448, 512]},
        "num_heads.3": {"choices": [8, 10]},
        "num_heads.4": {"choices": [14, 16]},
        "mlp_ratios.2": {"choices": [4, 6]},
        "mlp_ratios.3": {"choices": [3, 4]},
        "mlp_ratios.4": {"choices": [3, 4]},
    },
    "budgets": {"gmacs": {"max": 5.0}, "latency_ms": {"max": 150.0}, "activations_m": {"max": 60}},
    "objectives": [{"maximize": "params"}, {"minimize": "latency_ms"}],
    "strategy": "exact",
}


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """A real exact run (synthetic latency calibration) with a baseline."""
    from hirisearch.latency.predict import CACHE_ENV, save_calibration

    tmp = tmp_path_factory.mktemp("front")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(tmp))
        save_calibration(synthetic_calibration())
        space = load_space(write_space(tmp, **SPACE))
        baselines = [baseline_row(str(SPECS / "swin" / "t.yaml"), space)]
        opts = SearchOptions(out=tmp / "run", trials=1, verify=False, baselines=baselines)
        result = run_search(space, opts)
        yield result, baselines


def _render(result: Any, baselines: list[dict[str, Any]], width: int | None) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(ParetoTable(result, baselines))
    return out.getvalue().splitlines()


def _words(lines: list[str]) -> set[str]:
    return {w for line in lines for w in line.replace("│", " ").replace("┃", " ").split()}


def _check_reads_well(result: Any, lines: list[str], width: int) -> None:
    text = "\n".join(lines)
    assert "…" not in text  # no header or cell cut to an ellipsis
    assert max(len(line) for line in lines) <= width
    words = _words(lines)
    for title in ("trial", "params", "(M)", "GFLOPs", "predicted", "latency", "(ms)", "traced",
                  "activations", "<= 5", "<= 150", "<= 60"):  # fmt: skip
        assert title in words or title in text, title
    assert len(result.pareto) > 2
    for e in result.pareto:  # every cell whole: the changes word by word, each number
        r = e.record
        wide = changed_fields({p: v for p, (_, v) in e.diff.items()}, result.base_spec).split()
        compact = [f"{p}={fmt.axis_value(v)}" for p, (_, v) in e.diff.items()]
        assert set(wide) <= words or set(compact) <= words, (wide, compact)
        for cell in (str(r.number), fmt.params_in_m(r.params), fmt.gmacs(r.macs),
                     fmt.params_in_m(r.acts)):  # fmt: skip
            assert cell in words, cell
        # the predicted latency with its interval, on one line: ``13.9 (12.1-15.4)``
        assert r.predicted_interval_ms is not None
        assert fmt.ms_interval(r.latency_ms, r.predicted_interval_ms) in text
    assert text.count("params") == 1 and "e+0" not in text  # params once, in millions
    assert "with its 90% interval" in text


def test_front_reads_well_at_80_columns(front: tuple[Any, list[dict[str, Any]]]) -> None:
    result, baselines = front
    lines = _render(result, baselines, 80)
    _check_reads_well(result, lines, 80)
    assert "Swin-T at 448" in "\n".join(lines)


def test_a_pipe_gets_the_width_of_columns(
    front: tuple[Any, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich sizes a console that is not a terminal from COLUMNS (80 when unset)."""
    result, baselines = front
    monkeypatch.setenv("COLUMNS", "80")
    lines = _render(result, baselines, None)
    _check_reads_well(result, lines, 80)
    assert lines == _render(result, baselines, 80)


def test_the_front_uses_the_width_it_is_given(front: tuple[Any, list[dict[str, Any]]]) -> None:
    result, baselines = front
    lines = _render(result, baselines, 200)
    _check_reads_well(result, lines, 200)
    text = "\n".join(lines)
    assert "predicted latency (ms)" in text  # headers on one line when there is room
    for e in result.pareto:  # and each configuration's changes on one line
        assert changed_fields({p: v for p, (_, v) in e.diff.items()}, result.base_spec) in text
    assert len(lines) < len(_render(result, baselines, 80))


def test_every_width_reads_well(front: tuple[Any, list[dict[str, Any]]]) -> None:
    """From 72 columns (the numbers alone, latency intervals included, take 71 here) to 200: the changes as whole lists, as the
    changed axes, or listed under the table as the width allows, and never a cut header or a cell
    wrapped inside a word."""
    result, baselines = front
    forms = set()
    for width in range(72, 201, 3):
        lines = _render(result, baselines, width)
        _check_reads_well(result, lines, width)
        text = "\n".join(lines)
        forms |= {f for f in ("changes (* =", "changed axes", "changes from the base") if f in text}
    assert len(forms) == 3, forms
