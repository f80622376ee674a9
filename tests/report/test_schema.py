"""results.json schema: every synthetic document of the documented shape validates; malformed ones
give one line naming the file, the field path and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hirisearch.report.run.schema import KINDS, SCHEMA, ResultsError, load_results, validate_results
from tests.report.synthetic import DOCS


@pytest.mark.parametrize("kind", sorted(DOCS))
def test_synthetic_documents_validate(kind: str) -> None:
    doc = DOCS[kind]()
    assert validate_results(doc) is doc


def test_every_kind_has_a_synthetic_document() -> None:
    assert set(KINDS) - set(DOCS) == {"profile"}  # profile shares compare's schema


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: d.update(kind="benchmark"), "kind: expected one of profile, compare, sweep"),
        (lambda d: d.update(schema="other/9"), "schema: expected 'hirisearch.results/1'"),
        (lambda d: d["records"][1].pop("latency_ms"), "records[1].latency_ms: required field"),
        (lambda d: d["records"][0].update(batch="two"), "records[0].batch:"),
        (lambda d: d["records"][2].update(iqr_ms=-1.0), "records[2].iqr_ms: Input should be"),
        (lambda d: d.update(records=[]), "records: List should have at least 1 item"),
    ],
)
def test_malformed_bench_documents(edit, words: str) -> None:  # noqa: ANN001
    doc = DOCS["bench"]()
    edit(doc)
    with pytest.raises(ResultsError) as e:
        validate_results(doc, file="run/results.json")
    line = e.value.one_line()
    assert line.startswith("run/results.json: ") and words in line, line
    assert "\n" not in str(e.value)


def test_malformed_search_trial_names_the_trial() -> None:
    doc = DOCS["search"]()
    doc["trials"][7]["feasible"] = "maybe"
    with pytest.raises(ResultsError, match=r"search: trials\[7\]\.feasible: Input should be"):
        validate_results(doc)


def test_load_results_errors(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="file not found"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text('{"kind": "sweep",\n "batch": }')
    with pytest.raises(ResultsError, match=r"not valid JSON: line 2, column 11"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(ResultsError, match="expected a JSON object, but got list"):
        load_results(tmp_path)
    doc = {"schema": SCHEMA, **DOCS["sweep"]()}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    assert load_results(tmp_path / "results.json")["kind"] == "sweep"


def test_every_report_kind_is_listed_with_the_module_that_defines_it():
    """The lazy registry imports one module per kind: every kind a module defines is listed
    with that module, and every listed kind is defined where it is listed (once)."""
    import importlib

    from hirisearch.report.run.kinds import KINDS as REPORT_KINDS
    from hirisearch.report.run.kinds import MODULES

    defined: dict[str, str] = {}
    for module in sorted(set(MODULES.values())):
        for kind in importlib.import_module(f"hirisearch.report.run.{module}").KINDS:
            assert kind.name not in defined, f"{kind.name} defined twice"
            defined[kind.name] = module
    assert defined == MODULES
    assert [REPORT_KINDS[name].name for name in REPORT_KINDS] == list(MODULES)
    assert set(KINDS) == set(MODULES) and KINDS["bench"] is REPORT_KINDS["bench"].schema
