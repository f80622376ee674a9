"""What the run folder's report says of an exact search: its method and exact counts (valid,
feasible, invalid by reason, outside each budget), not a tally of trial states; a front table
with each quantity once and the changes from the base spec; per-block changes shown whole."""

from __future__ import annotations

from pathlib import Path

from hirisearch.ops.search.run import SearchOptions, run_search
from hirisearch.ops.search.space import load_space
from hirisearch.report.run.save import save_run
from hirisearch.report.search_words import changed_fields
from tests.search.conftest import write_space


def test_exact_report_gives_exact_counts_and_a_front_table(tmp_path: Path) -> None:
    space = load_space(
        write_space(tmp_path, strategy="exact", objectives=[{"maximize": "params"},
                                                            {"minimize": "activations"}])
    )  # fmt: skip
    result = run_search(space, SearchOptions(out=tmp_path / "run", trials=1, verify=False))
    save_run(result, result.run_dir)
    report = (tmp_path / "run" / "report.md").read_text()
    x = result.exact
    assert x is not None
    assert f"exact: {x['configurations']:,} configurations" in report
    for label, n in [("valid", x["valid"]), ("feasible", x["feasible"]),
                     ("invalid", x["invalid"]), ("outside gmacs<=0.26", x["valid"] - x["feasible"])]:  # fmt: skip
        assert f"| {label} " in report and f"{n:,}" in report, label
    assert "COMPLETE" not in report and "trials (" not in report
    front = report[report.index("## Pareto front") :]
    head = front.splitlines()[4]
    assert head.count("params") == 1 and "activations (max)" not in head
    assert "changes from the base spec" in head and "e+0" not in front
    assert "base spec" in front and "depths=[" in front


def test_per_block_changes_are_shown_whole() -> None:
    base = {"depths": [2, 3, 4], "mlp_ratios": [4, [4, 4, 4], 8], "img_size": 448}
    got = changed_fields(
        {"mlp_ratios.1.2": 3, "mlp_ratios.2": 6, "depths.0": 1, "img_size": 224}, base
    )
    assert got == "mlp_ratios=[4,[4,4,3*],6*] depths=[1*,3,4] img_size=224"
