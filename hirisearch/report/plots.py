"""Plots as pure functions of results (matplotlib, Agg backend, PNG + SVG).

Every axis label states the convention and, where it applies, the resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hirisearch.cost.convention import CONVENTION  # noqa: E402
from hirisearch.io import atomic_write_bytes  # noqa: E402

__all__ = ["ScalingSeries", "resolution_scaling", "save_figure"]


@dataclass(frozen=True)
class ScalingSeries:
    """One model's cost at several input resolutions."""

    name: str
    family: str
    img_sizes: tuple[int, ...]
    gmacs: tuple[float, ...]
    params_m: tuple[float, ...] = ()


def save_figure(fig: plt.Figure, path: str | Path, *, formats: Sequence[str] = ()) -> list[Path]:
    """Save ``fig`` atomically at ``path`` and, for each extra format (``"svg"``), beside it."""
    import io

    path = Path(path)
    out = []
    for p in [path, *(path.with_suffix("." + f) for f in formats if "." + f != path.suffix)]:
        buf = io.BytesIO()
        fig.savefig(buf, format=p.suffix.lstrip(".") or "png", dpi=150, bbox_inches="tight")
        out.append(atomic_write_bytes(p, buf.getvalue()))
    plt.close(fig)
    return out


def resolution_scaling(
    series: Sequence[ScalingSeries],
    path: str | Path,
    *,
    batch: int = 1,
    formats: Sequence[str] = (),
) -> list[Path]:
    """GFLOPs against input resolution, one line per model, log scale.

    Global attention grows with the fourth power of the resolution, windowed attention and
    convolutions with the square; on a log axis the difference in slope is what to look at.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in series:
        ax.plot(s.img_sizes, s.gmacs, marker="o", label=f"{s.name} ({s.family})")
    ax.set_yscale("log")
    ax.set_xlabel("input resolution (pixels per side)")
    ax.set_ylabel(f"GFLOPs (log), batch {batch}")
    ax.set_title(f"Cost against resolution; {CONVENTION}", fontsize=9)
    sizes = sorted({r for s in series for r in s.img_sizes})
    if len(sizes) <= 12:
        ax.set_xticks(sizes)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, formats=formats)
