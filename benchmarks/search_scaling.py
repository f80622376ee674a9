"""The section-wise exact front against the size of the space: front size, partial sums kept and
time, from 10^6 to 10^12 configurations, with enumeration's time where it is affordable.

    python benchmarks/search_scaling.py [--plot docs/figures/section_scaling.png]

The spaces are ``specs/search/hiri_vit_blocks.yaml`` with its per-block FFN ratios added one block
at a time (the other axes kept): 1.3 * 10^6 configurations with three per-block axes, times 4 for
each further block, up to the whole space (13 blocks, 1.4 * 10^12). Times are CPU seconds of the
search alone (discovery, tables, the front, the counts), in this process. Needs a CPU calibration
(``hirisearch calibrate --device cpu``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hirisearch.ops.search.chain import run_sections
from hirisearch.ops.search.enumeration import sweep
from hirisearch.ops.search.exact import Model
from hirisearch.ops.search.metrics import load_space_calibration
from hirisearch.ops.search.space import parse_space
from hirisearch.spec.load import read_yaml

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "specs" / "search" / "hiri_vit_blocks.yaml"
#: Blocks whose FFN ratio becomes an axis, in order (stage, block).
BLOCKS = [(4, 0), (4, 1), (4, 2), (2, 0), (2, 1), (2, 2), (2, 3),
          (3, 0), (3, 1), (3, 2), (3, 3), (3, 4), (3, 5)]  # fmt: skip
#: Enumerated up to this many configurations (about ten million a second).
ENUMERATE_MAX = 30_000_000


def space_with(blocks: int) -> object:
    """The space with the first ``blocks`` per-block axes of :data:`BLOCKS`."""
    doc = read_yaml(SPACE)
    axes = {k: v for k, v in doc["axes"].items() if not k.endswith("[*]")}
    choices = {s: doc["axes"][f"mlp_ratios.{s}[*]"] for s in (2, 3, 4)}
    for stage, block in BLOCKS[:blocks]:
        axes[f"mlp_ratios.{stage}.{block}"] = choices[stage]
    return parse_space({**doc, "axes": axes}, file=str(SPACE))


def measure(space: object, cal: object, method: str) -> tuple[float, object]:
    start = time.process_time()
    model = Model(space, cal, seed=0)  # type: ignore[arg-type]
    found = run_sections(model) if method == "sections" else sweep(model)
    return time.process_time() - start, found


def plot(rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(10, 3.8))
    fax, tax = fig.subplots(1, 2)
    sizes = [r["size"] for r in rows]
    fax.plot(sizes, [r["front"] for r in rows], marker="o", label="front (configurations)")
    fax.plot(sizes, [r["kept"] for r in rows], marker="s", label="partial sums kept (all steps)")
    fax.set_xscale("log")
    fax.set_yscale("log")
    fax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    fax.set_xlabel("configurations in the space")
    fax.set_title("What the section-wise front keeps", fontsize=9)
    fax.legend(fontsize=8)
    tax.plot(sizes, [r["sections_s"] for r in rows], marker="o", label="section by section")
    enum = [(r["size"], r["enumerate_s"]) for r in rows if r["enumerate_s"] is not None]
    tax.plot(*zip(*enum, strict=True), marker="x", label="enumeration")
    rate = enum[-1][0] / enum[-1][1]  # configurations a second at the largest enumerated
    tax.plot([enum[-1][0], sizes[-1]], [enum[-1][1], sizes[-1] / rate], linestyle="--",
             color="C1", label=f"enumeration at {rate:,.0f}/s (extrapolated)")  # fmt: skip
    tax.set_xscale("log")
    tax.set_yscale("log")
    tax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    tax.set_xlabel("configurations in the space")
    tax.set_ylabel("CPU seconds")
    tax.set_title("Time of the exact constrained front", fontsize=9)
    tax.legend(fontsize=8)
    for ax in (fax, tax):
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", type=Path, help="write the figure here (PNG)")
    args = ap.parse_args()
    rows = []
    cal = None
    for blocks in range(3, len(BLOCKS) + 1):
        space = space_with(blocks)
        cal = cal or load_space_calibration(space)  # type: ignore[arg-type]
        seconds, found = measure(space, cal, "sections")
        enum_s = None
        if found.size <= ENUMERATE_MAX:
            enum_s, enumerated = measure(space, cal, "enumerate")
            assert enumerated.front_index.tolist() == found.front_index.tolist()
        rows.append({"size": found.size, "front": len(found.front_index),
                     "kept": found.partial_sums, "sections_s": seconds,
                     "enumerate_s": enum_s})  # fmt: skip
    t = Table(title="the section-wise front against the size of the space", title_justify="left")
    for col in ("configurations", "front", "partial sums kept", "sections (CPU s)",
                "enumeration (CPU s)"):  # fmt: skip
        t.add_column(col, justify="right")
    for r in rows:
        enum = "-" if r["enumerate_s"] is None else f"{r['enumerate_s']:.2f}"
        t.add_row(f"{r['size']:.2e}", str(r["front"]), f"{r['kept']:,}",
                  f"{r['sections_s']:.2f}", enum)  # fmt: skip
    Console().print(t)
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
