"""Seconds per counting-only profile at impossible sizes (issue 8): resolution 16,384, depth 10,000,
width 1,000,000 and their combinations, analytic and traced (the traced count runs on the meta
device, or is skipped with a note above the module limit / torch's 64-bit sizes). Each case runs
``profile_target`` in this process after one warm-up, so imports are excluded.

    PYTHONPATH=. python benchmarks/extreme_sizes.py
"""

from __future__ import annotations

import copy
import resource
import time
from pathlib import Path

import yaml

from hirisearch.ops.profile import analytic_module_count, profile_target
from hirisearch.report import format as fmt
from hirisearch.spec import parse_spec
from hirisearch.targets.spec import target_from_spec

ROOT = Path(__file__).resolve().parent.parent
BASE = yaml.safe_load((ROOT / "specs" / "hiri_vit" / "s.yaml").read_text())

CASES = [
    ("S at 448 (reference)", {}, 448),
    ("resolution 16384", {}, 16384),
    ("depth 10,000", {"depths": [2, 3, 4, 10_000, 3]}, 448),
    ("width 1,000,000", {"dims": [32, 64, 128, 1_000_000, 448]}, 448),
    ("depth 10,000 at 16384", {"depths": [2, 3, 4, 10_000, 3]}, 16384),
    ("width 1,000,000 at 16384", {"dims": [32, 64, 128, 1_000_000, 448]}, 16384),
    ("all three", {"depths": [2, 3, 4, 10_000, 3], "dims": [32, 64, 128, 1_000_000, 448]}, 16384),
    ("resolution 1,048,576 (max)", {}, 1 << 20),
]


def main() -> None:
    target = target_from_spec(parse_spec(copy.deepcopy(BASE), file="s.yaml"), "s.yaml")
    profile_target(target, 448)  # warm-up: imports, caches
    print(
        f"{'case':28} {'modules':>8} {'GFLOPs':>18} {'analytic s':>11} {'traced s':>9} "
        f"{'ratio':>7}  traced"
    )
    for name, edits, size in CASES:
        d = copy.deepcopy(BASE)
        d.update(edits)
        t = target_from_spec(parse_spec(d, file=name), name)
        start = time.perf_counter()
        analytic = profile_target(t, size, traced=False)
        a_s = time.perf_counter() - start
        start = time.perf_counter()
        traced = profile_target(t, size)
        t_s = time.perf_counter() - start
        modules = analytic_module_count(t.at(size).tree)
        status = (
            f"{traced.traced_mode}, agreement {traced.agreement:+.1e}"
            if traced.macs_traced is not None
            else traced.traced_note.split(":")[0]
        )
        assert traced.macs == analytic.macs
        print(
            f"{name:28} {modules:>8,} {fmt.gmacs(analytic.macs):>18} {a_s:>11.3f} {t_s:>9.3f} "
            f"{t_s / a_s:>7.0f}  {status}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the whole run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
