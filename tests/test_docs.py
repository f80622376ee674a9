"""The examples of docs/api.md run as written: every ```python block, in order, in one namespace,
from the repository root (the examples name the shipped specs by relative path)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API_MD = ROOT / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def _blocks() -> list[str]:
    return BLOCK.findall(API_MD.read_text(encoding="utf-8"))


def test_every_api_example_checks_something() -> None:
    blocks = _blocks()
    assert len(blocks) >= 10, len(blocks)
    for i, code in enumerate(blocks):
        assert "assert " in code, f"docs/api.md block {i} asserts nothing:\n{code}"


def test_api_examples_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "docs_api"}
    for i, code in enumerate(_blocks()):
        try:
            exec(compile(code, f"docs/api.md[block {i}]", "exec"), namespace)
        except Exception as e:  # name the block that failed, with its code
            raise AssertionError(f"docs/api.md block {i} failed: {e!r}\n{code}") from e
    out = capsys.readouterr().out
    assert "HIRI-ViT-S 448 20684264 4964761984 4.965" in out
    assert "nearest valid: 448 or 480" in out
