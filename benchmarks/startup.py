"""How long a command takes from the shell, against the cost of importing torch, in one run.

    python benchmarks/startup.py [--repeats 5]

Each command runs ``--repeats`` times in a fresh process (the median wall time is reported), in
the order listed, interleaved round by round so that a change in the machine's speed hits every
row alike. Targets: ``validate`` and ``profile --no-trace`` at most 0.6 s each, or at most 0.25x
the torch import where the machine is slower; the traced ``profile`` at most the torch import +
1.0 s; ``profile timm:convnext_tiny`` at most the torch + timm import + 1.0 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Row:
    name: str
    argv: tuple[str, ...]


def _cli() -> tuple[str, ...]:
    exe = shutil.which("hirisearch")
    return (exe,) if exe else (sys.executable, "-m", "hirisearch")


def rows() -> list[Row]:
    py = sys.executable
    cli = _cli()
    return [
        Row("python -c 'import torch'", (py, "-c", "import torch")),
        Row("python -c 'import torch, timm'", (py, "-c", "import torch, timm")),
        Row("hirisearch validate specs/s.yaml", (*cli, "validate", "specs/s.yaml")),
        Row(
            "hirisearch profile specs/s.yaml --res 448 --no-trace",
            (*cli, "profile", "specs/s.yaml", "--res", "448", "--no-trace"),
        ),
        Row(
            "hirisearch profile specs/s.yaml --res 448",
            (*cli, "profile", "specs/s.yaml", "--res", "448"),
        ),
        Row(
            "hirisearch profile timm:convnext_tiny --res 224",
            (*cli, "profile", "timm:convnext_tiny", "--res", "224"),
        ),
    ]


def run_once(row: Row, out: Path) -> float:
    env = dict(os.environ, COLUMNS="100")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*row.argv, *(("--out", str(out / "run")) if "profile" in row.argv else ())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{row.name} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    table_rows = rows()
    times: dict[str, list[float]] = {r.name: [] for r in table_rows}
    with tempfile.TemporaryDirectory() as tmp:
        for r in table_rows:  # one untimed round: the page cache holds every module afterwards
            run_once(r, Path(tmp))
        for _ in range(args.repeats):
            for r in table_rows:
                times[r.name].append(run_once(r, Path(tmp)))
    med = {k: statistics.median(v) for k, v in times.items()}
    torch_s = med["python -c 'import torch'"]
    timm_s = med["python -c 'import torch, timm'"]
    targets = {
        "hirisearch validate specs/s.yaml": ("<= 0.6 s or 0.25x torch", max(0.6, 0.25 * torch_s)),
        "hirisearch profile specs/s.yaml --res 448 --no-trace": (
            "<= 0.6 s or 0.25x torch",
            max(0.6, 0.25 * torch_s),
        ),
        "hirisearch profile specs/s.yaml --res 448": ("<= torch + 1.0 s", torch_s + 1.0),
        "hirisearch profile timm:convnext_tiny --res 224": ("<= torch+timm + 1.0 s", timm_s + 1.0),
    }
    t = Table(
        title=f"startup, median of {args.repeats} fresh processes (wall time)", title_justify="left"
    )
    for col in ("command", "median s", "min s", "x torch import", "target", "met"):
        t.add_column(col, justify="left" if col in ("command", "target") else "right")
    for name, vals in times.items():
        goal = targets.get(name)
        t.add_row(
            name,
            f"{med[name]:.2f}",
            f"{min(vals):.2f}",
            f"{med[name] / torch_s:.2f}",
            goal[0] if goal else "",
            ("yes" if med[name] <= goal[1] else "NO") if goal else "",
        )
    Console(width=120).print(t)


if __name__ == "__main__":
    main()
