"""Golden documents: every ``--json`` document and run folder of the shipped specs keeps its
content. Each case runs one command line from the repository root and compares what it printed
(``--json``) and what its run folder holds (``results.json``, ``results.csv``, ``report.md``) with
``tests/data/golden/<case>.json``, written by the code before a change.

Only what cannot repeat is masked: timings and timestamps (keys ``created``, ``seconds``,
``*_s``, ``traced_seconds``), the run folder's own path, the process id of a search worker, and
for ``bench`` every measured or machine-dependent value (the keys of the records are compared).

Regenerate the documents (only when a change of content is intended, and say so in the commit)::

    PYTHONPATH=. python -m tests.test_golden
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hirisearch.cli import app
from tests.conftest import ROOT, shipped_specs

GOLDEN = ROOT / "tests" / "data" / "golden"
RUN = "<run>"  # the run folder's path, in every document and file
SAME = "<the documents on stdout>"

#: Keys whose values are timings, timestamps or process ids, in every case.
_ALWAYS = frozenset({"created", "seconds", "traced_seconds", "worker"})
#: What a bench measures, or depends on the machine it ran on.
_BENCH = frozenset(
    {
        "latency_ms", "iqr_ms", "p90_ms", "mean_ms", "min_ms", "runs", "throughput",
        "gmacs_per_s", "peak_mem_bytes", "peak_mem_kind", "device_name", "torch_version",
        "noisy", "warnings", "mem_est_bytes",
    }
)  # fmt: skip


def _specs() -> list[str]:
    return [str(p.relative_to(ROOT)) for p in shipped_specs()]


#: case -> (command line, whether it writes a run folder, extra masked keys).
CASES: dict[str, tuple[list[str], bool, frozenset[str]]] = {
    "profile_no_trace": (["profile", *_specs(), "--no-trace", "--json"], True, frozenset()),
    "profile_traced": (["profile", "specs/s.yaml", "specs/swin/t.yaml", "--json"], True, frozenset()),
    "profile_depth": (
        ["profile", "specs/swin/t.yaml", "--res", "448", "--depth", "3", "--no-trace", "--json"],
        True,
        frozenset(),
    ),
    "compare": (
        ["compare", "specs/s.yaml", "specs/swin/t.yaml", "specs/deit/s.yaml", "--res", "224",
         "448", "--no-trace", "--json"],
        True,
        frozenset(),
    ),
    "sweep": (
        ["sweep", "specs/s.yaml", "specs/swin/t.yaml", "specs/piip/tsb_cls_368.yaml", "--res",
         "224:512:32", "--json", "--no-report"],
        True,
        frozenset(),
    ),
    "bench": (
        ["bench", "specs/deit/t.yaml", "--res", "64", "--device", "cpu", "--batch", "1,2", "--min-time", "0.02",
         "--warmup", "0", "--threads", "1", "--json", "--no-report"],
        True,
        _BENCH,
    ),
    "search_exact": (["search", "specs/search/resformer_s.yaml", "--json"], True, frozenset()),
    "search_tpe": (
        ["search", "tests/data/golden/tpe_space.yaml", "--no-verify", "--json"],
        True,
        frozenset(),
    ),
    "search_dry_run": (
        ["search", "specs/search/hiri_vit_5g.yaml", "--dry-run", "--json"], False, frozenset()
    ),
    "list": (["list", "--json"], False, frozenset()),
}  # fmt: skip


def _mask(obj: Any, keys: frozenset[str]) -> Any:
    """``obj`` with the values of volatile keys replaced, and the run folder's path named."""
    if isinstance(obj, dict):
        return {
            k: "<masked>" if k in keys or k.endswith("_s") else _mask(v, keys)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_mask(v, keys) for v in obj]
    if isinstance(obj, str):
        return obj.replace("<tmp>", RUN)
    return obj


def _csv(text: str, keys: frozenset[str]) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    head = rows[0] if rows else []
    masked = {i for i, h in enumerate(head) if h in keys}
    return [
        head,
        *([("<masked>" if i in masked else c) for i, c in enumerate(r)] for r in rows[1:]),
    ]


def _markdown(text: str, bench: bool) -> list[str]:
    lines = []
    for line in text.splitlines():
        if line.startswith("- created: "):
            line = "- created: <masked>"
        if bench and line.startswith("|"):  # measured numbers
            line = re.sub(r"\d[\d,]*(\.\d+)?", "#", line)
            line = re.sub(r" +", " ", line)  # and the padding that follows their width
        lines.append(line)
    return lines


def run_case(name: str, tmp: Path) -> dict[str, Any]:
    """What the case's command line prints and writes, masked (``tmp``: a fresh folder)."""
    argv, writes, extra = CASES[name]
    keys = _ALWAYS | extra
    out = tmp / "run"
    args = [*argv, "--out", str(out)] if writes else argv
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    text = res.stdout.replace(str(tmp), "<tmp>")
    doc: dict[str, Any] = {
        "command": argv,
        "stdout": _mask([json.loads(line) for line in text.splitlines() if line.strip()], keys),
    }
    if writes:
        files = {n: (out / n).read_text().replace(str(tmp), "<tmp>") for n in _RUN_FILES}
        results = _mask(json.loads(files["results.json"]), keys)
        stdout = doc["stdout"]
        if "results" in results and results["results"] in (stdout, stdout[:1] and stdout[0]):
            results["results"] = SAME  # profile and compare: the documents printed, stored once
        doc["results.json"] = results
        doc["results.csv"] = _csv(files["results.csv"], keys)
        doc["report.md"] = _markdown(files["report.md"], bench=bool(extra))
    return doc


_RUN_FILES = ("results.json", "results.csv", "report.md")


def first_difference(want: Any, got: Any, path: str = "") -> str | None:
    """Where ``got`` differs from ``want`` (floats to 1e-9 relative), or None."""
    if isinstance(want, dict) and isinstance(got, dict):
        if list(want) != list(got):
            return f"{path}: keys {list(want)} != {list(got)}"
        for k in want:
            d = first_difference(want[k], got[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{path}: {len(want)} items != {len(got)}"
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            d = first_difference(w, g, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(want, float) and isinstance(got, float):
        return (
            None
            if math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-12)
            else f"{path}: {want} != {got}"
        )
    if type(want) is not type(got) or want != got:
        return f"{path}: {want!r} != {got!r}"
    return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_documents_keep_their_content(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    want = json.loads((GOLDEN / f"{name}.json").read_text())
    got = run_case(name, tmp_path)
    diff = first_difference(want, got)
    assert diff is None, f"{name}: {diff}"


def test_every_case_has_its_document() -> None:
    stored = {p.stem for p in GOLDEN.glob("*.json")}
    assert stored == set(CASES)


def write_all() -> None:
    """Write every case's golden document (run from the repository root)."""
    import os
    import tempfile

    os.chdir(ROOT)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            doc = run_case(name, Path(tmp))
        text = json.dumps(doc, indent=None, separators=(",", ":"))
        (GOLDEN / f"{name}.json").write_text(text + "\n")
        sys.stdout.write(f"{name}: {len(text)} bytes\n")


if __name__ == "__main__":
    write_all()
