"""What ``hirisearch validate`` and ``hirisearch list`` print, as pure functions of
:class:`~hirisearch.ops.catalog.SpecCheck` and :class:`~hirisearch.ops.catalog.Catalog`."""

from __future__ import annotations

from hirisearch.models.resolution import size_label
from hirisearch.ops.catalog import Catalog, SpecCheck
from hirisearch.report import format as fmt
from hirisearch.report.terminal.fit import Column, FitTable


def check_line(c: SpecCheck) -> str:
    """``ok  FILE  (family: name; params, GFLOPs at size)`` for a valid spec file."""
    detail = ""
    if c.params is not None:
        at = "" if c.img_size is None else f" at {size_label(c.img_size)}"
        detail = f"{fmt.params_m(c.params)} params, {fmt.gmacs(c.macs)} GFLOPs{at}"
    return f"ok  {c.file}  ({c.family}: {c.name}; {detail})"


def catalog_tables(cat: Catalog) -> list[FitTable]:
    """The families (with their number of specs), then the spec files."""
    t = FitTable(
        [Column("family", "left"), Column("model", "left", text=True), Column("specs")],
        title="families",
    )
    for name, title in cat.families:
        t.add_row(name, title, str(sum(1 for s in cat.specs if s["family"] == name)))
    s = FitTable(
        [Column("ref", "left", text=True), Column("family", "left"), Column("name", "left")],
        title="specs (name them as shown, from any folder)",
    )
    for row in cat.specs:
        s.add_row(row["ref"], row["family"], row["name"])
    return [t, s]
