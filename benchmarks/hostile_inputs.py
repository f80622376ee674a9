"""Time and peak memory of refusing hostile spec files (issue 8): each case runs in a fresh child
process so its peak resident memory is its own; the table gives seconds to refuse (load_spec only,
imports excluded), the peak RSS of the child, and the one-line message.

    PYTHONPATH=. python benchmarks/hostile_inputs.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
S_TEXT = (ROOT / "specs" / "hiri_vit" / "s.yaml").read_text()

CHILD = """
import json, resource, sys, time
from hirisearch.errors import SpecError
from hirisearch.spec import load_spec
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
try:
    load_spec(sys.argv[1])
    msg = "ACCEPTED"
except SpecError as e:
    msg = e.one_line()
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "delta_mb": (peak - base) / 1024, "msg": msg}))
"""


def billion_laughs(levels: int = 9, fan: int = 9) -> str:
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join(f"*l{i - 1}" for _ in range(fan)) + "]")
    return "\n".join(lines) + "\n"


def cases(d: Path) -> dict[str, Path]:
    out = {}

    def put(name: str, data: str | bytes) -> None:
        p = d / f"case{len(out)}.yaml"
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        out[name] = p

    put("billion laughs (9^9 = 387M)", billion_laughs())
    put("alias bomb inside a spec", S_TEXT + billion_laughs(6, 20).replace("l", "x_l"))
    big = d / "100MB.yaml"
    with big.open("wb") as f:  # real content, not sparse
        chunk = ("description: " + "x" * 1000 + "\n").encode()
        for _ in range(100 * 1024 * 1024 // len(chunk) + 1):
            f.write(chunk)
    out["100 MB spec"] = big
    put("5,001 YAML nodes", "x: [" + ",".join("1" for _ in range(5_001)) + "]\n")
    nodes = "x: [" + ",".join("1" for _ in range(4_990)) + "]\n"
    put(
        "largest parsed: 256 KB, 4,991 nodes",
        nodes + "# " + "z" * (256 * 1024 - len(nodes) - 3) + "\n",
    )
    put("top-level list", "- family: hiri_vit\n- name: x\n")
    put("top-level scalar", "hiri_vit\n")
    put(
        "!!python/object/apply",
        "family: hiri_vit\nname: !!python/object/apply:os.system ['true']\n",
    )
    put("!!python/name", "family: hiri_vit\nname: !!python/name:os.system\n")
    put("nesting 10,000 deep", "family: hiri_vit\ndepths: " + "[" * 10_000 + "]" * 10_000 + "\n")
    put("duplicate key", S_TEXT + "depths: [1, 1, 1, 1, 1]\n")
    put("non-UTF-8", b"family: hiri_vit\nname: \xff\xfe\n")
    put("empty", "")
    return out


def main() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name, path in cases(Path(tmp)).items():
            res = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True
            )
            doc = json.loads(res.stdout)
            size = path.stat().st_size
            rows.append((name, size, doc))
    print(f"{'case':30} {'bytes':>11} {'seconds':>9} {'peak RSS MB':>12} {'+MB':>6}  message")
    for name, size, doc in rows:
        msg = doc["msg"].split(": ", 1)[-1]
        print(
            f"{name:30} {size:>11,} {doc['seconds']:>9.4f} {doc['peak_mb']:>12.1f} "
            f"{doc['delta_mb']:>6.1f}  {msg[:90]}"
        )
    worst = max(doc["seconds"] for _, _, doc in rows)
    print(f"\nslowest refusal: {worst:.4f} s (target: under 1 s)")


if __name__ == "__main__":
    main()
