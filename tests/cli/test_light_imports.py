"""Commands that need no model import no torch: each runs in a fresh interpreter, and the heavy
modules it loaded are read from ``sys.modules`` at exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SPECS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "timm", "torchvision", "matplotlib", "optuna", "fvcore", "thop", "ptflops")
PROBE = f"""
import atexit, sys
HEAVY = {HEAVY!r}
atexit.register(lambda: print("HEAVY:" + ",".join(m for m in HEAVY if m in sys.modules)))
from hirisearch.__main__ import run
sys.argv = ["hirisearch", *sys.argv[1:]]
run()
"""


def loaded(args: list[str], cwd: Path) -> set[str]:
    """The heavy modules ``hirisearch ARGS`` imported (it must succeed)."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY:"))
    return {m for m in line.removeprefix("HEAVY:").split(",") if m}


S = str(SPECS / "s.yaml")
SWIN = str(SPECS / "swin" / "t.yaml")
PIIP = str(SPECS / "piip" / "tsb_cls_368.yaml")

#: (command, the heavy modules it may load)
CASES = [
    (["validate", S, SWIN, PIIP], set()),
    (["list"], set()),
    (["profile", S, "--res", "448", "--no-trace", "-o", "{tmp}/p"], set()),
    (["profile", SWIN, "--res", "224", "--no-trace", "--json", "-o", "{tmp}/pj"], set()),
    (
        [
            "profile",
            S,
            "--res",
            "1024",
            "--train",
            "--batch",
            "32",
            "--dtype",
            "bf16",
            "--memory",
            "h100-80gb",
            "--no-trace",
            "-o",
            "{tmp}/pt",
        ],
        set(),
    ),  # fmt: skip
    (["compare", S, SWIN, "--res", "224", "448", "--no-trace", "-o", "{tmp}/c"], {"matplotlib"}),
    (["compare", S, PIIP, "--no-trace", "--no-report", "-o", "{tmp}/cn"], set()),
    (["sweep", S, SWIN, "--res", "224:448:32", "-o", "{tmp}/s"], {"matplotlib"}),
    (["sweep", S, "--res", "224,448", "--no-report", "-o", "{tmp}/sn"], set()),
    (["search", str(ROOT / "specs" / "search" / "hiri_vit_5g.yaml"), "--dry-run"], set()),
]


@pytest.mark.parametrize(("args", "allowed"), CASES, ids=lambda c: " ".join(c)[:40])
def test_command_imports_no_torch(args: list[str], allowed: set[str], tmp_path: Path) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert loaded(argv, tmp_path) <= allowed


def test_traced_profile_does_load_torch(tmp_path: Path) -> None:
    """The probe sees imports: a traced count needs torch, and timm only for timm-built families."""
    assert loaded(["profile", S, "--res", "64", "-o", str(tmp_path / "t")], tmp_path) == {"torch"}
    assert "timm" in loaded(["profile", SWIN, "--res", "224", "-o", str(tmp_path / "w")], tmp_path)
