"""The PIIP paper's published cost rows against our counts: the table in docs/families.md.

Counts every row of ``specs/piip_rows/rows.csv`` analytically (no model is built): under the
convention the row was published in (PIIP's counting path) and under ours (the model as built,
attention matmuls included, norms apart). Prints a markdown table and the count per paper table.

Run: ``PYTHONPATH=. python benchmarks/piip_rows.py``
"""

from __future__ import annotations

from collections import defaultdict

from tests.models import piip_rows as R


def _row(r: dict[str, str], by_row: dict[str, dict[str, str]]) -> tuple[str, bool]:
    theirs = R.count(r)
    ours = R.count(r, "ours")
    owner = by_row[r["params_of"]] if r["params_of"] else r
    params = R.count(owner).params
    off = theirs.macs / 1e9 / float(r["gflops"]) - 1
    published = f"{r['params_m']}M / {r['gflops']}" if r["params_m"] else f"- / {r['gflops']}"
    ours_p = f"{params / 1e6:.2f}M" if r["params_m"] else "-"
    ok = R.within_one_percent(r, theirs.macs)
    mark = "" if ok else (" (digit)" if R.gflops_ok(r, theirs.macs) else " (miss)")
    line = (
        f"| {r['row']} | {r['label']} | `{r['spec']}`{'@' + r['img_size'] if r['img_size'] else ''}"
        f"{' ' + r['section'] if r['section'] else ''} | {published} | {ours_p} / "
        f"{theirs.macs / 1e9:.3f} | {off:+.2%}{mark} | {ours.macs / 1e9:.3f} |"
    )
    return line, ok


def main() -> None:
    rows = R.rows()
    by_row = {r["row"]: r for r in rows}
    print("| row | model | spec | published params / GFLOPs | `--convention piip` | off | ours |")
    print("|---|---|---|---|---|---|---|")
    per_table: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        line, ok = _row(r, by_row)
        print(line)
        per_table[r["table"]].append(ok)
    print()
    for table, oks in per_table.items():
        print(f"Table {table}: {sum(oks)}/{len(oks)} within 1%")
    total = [ok for oks in per_table.values() for ok in oks]
    print(f"All: {sum(total)}/{len(total)} within 1% ({sum(total) / len(total):.1%})")


if __name__ == "__main__":
    main()
