"""The PIIP paper's published cost rows (``specs/piip_rows/rows.csv``) and how one is counted.

Each row names a shipped spec (and, where the paper's model differs, an input size), the section
of the cost tree the figure covers, a path to leave out, the convention it was published in, the
figures as printed, and the checks that apply:

- params: within half a unit of the printed last digit (``params_check: off``: a documented miss;
  ``params_of``: the printed #Param belongs to another row's model);
- GFLOPs: within 1% (``gflops_check: digit``: figures printed with two significant digits, checked
  within one unit of the printed last digit, which the truncated Appendix C figures need).

Used by ``tests/models/test_piip_rows.py`` and ``benchmarks/piip_rows.py``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal

from hirisearch.models import get_family
from hirisearch.spec import load_spec
from hirisearch.specs import SHIPPED_DIR

ROWS_FILE = SHIPPED_DIR / "piip_rows" / "rows.csv"
TOLERANCE = 0.01


@dataclass(frozen=True)
class Count:
    params: int
    macs: int


def rows() -> list[dict[str, str]]:
    with ROWS_FILE.open(newline="") as f:
        return list(csv.DictReader(f))


def count(row: dict[str, str], convention: str | None = None) -> Count:
    """Params and MACs of ``row``'s model section in ``convention`` (default: the row's)."""
    spec = load_spec(row["spec"])
    family = get_family(spec.family)
    plan = family.plan(spec, int(row["img_size"]) if row["img_size"] else None)
    name = convention or row["convention"]
    if name == "ours":
        tree = family.cost(plan)
    else:
        tree = {c.name: c for c in family.conventions}[name].cost(plan)
    total = (tree.child(row["section"]) if row["section"] else tree).total
    params, macs = total.params, total.macs
    if row["exclude"]:
        left_out = tree.child(row["exclude"]).total
        params, macs = params - left_out.params, macs - left_out.macs
    return Count(params, macs)


def unit(printed: str) -> Decimal:
    """One unit of the last printed digit of ``printed`` ("59.6" -> 0.1, "243" -> 1)."""
    return Decimal(1).scaleb(Decimal(printed).as_tuple().exponent)


def params_ok(row: dict[str, str], params: int) -> bool:
    printed = row["params_m"]
    return abs(Decimal(params) / Decimal(10**6) - Decimal(printed)) <= unit(printed) / 2


def gflops_ok(row: dict[str, str], macs: int) -> bool:
    printed = row["gflops"]
    ours = Decimal(macs) / Decimal(10**9)
    if abs(ours / Decimal(printed) - 1) <= Decimal(str(TOLERANCE)):
        return True
    return row["gflops_check"] == "digit" and abs(ours - Decimal(printed)) <= unit(printed)


def within_one_percent(row: dict[str, str], macs: int) -> bool:
    return abs(macs / 1e9 / float(row["gflops"]) - 1) <= TOLERANCE
