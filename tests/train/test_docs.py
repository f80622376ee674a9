"""The examples of docs/training.md run as written, and their figures hold: the analytic ones
always (no torch), the simulated and measured ones in the slow run."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
HEAVY = ("simulate_train_peak", "measure_train_peak")


def _run(blocks: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "docs_training"}
    for i, code in enumerate(blocks):
        assert "assert " in code, f"docs/training.md block {i} asserts nothing"
        exec(compile(code, f"docs/training.md[block {i}]", "exec"), namespace)


def _blocks() -> list[str]:
    return BLOCK.findall((ROOT / "docs" / "training.md").read_text(encoding="utf-8"))


def test_analytic_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [b for b in _blocks() if not any(h in b for h in HEAVY)]
    assert len(blocks) >= 3
    _run(blocks, monkeypatch)


@pytest.mark.slow
def test_all_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_blocks(), monkeypatch)
