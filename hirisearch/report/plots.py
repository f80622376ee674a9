"""Plots as pure functions of results (matplotlib, Agg backend, PNG + SVG).

Every axis label states the convention and, where it applies, the resolution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hirisearch.cost.convention import CONVENTION
from hirisearch.io import atomic_write_bytes
from hirisearch.models.resolution import size_dims, size_key, size_label, size_side, size_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class _Figures:
    """What the plots use of pyplot, without importing pyplot (most of a first plot's time):
    figures are ``matplotlib.figure.Figure`` objects, saved through the Agg and SVG canvases."""

    def subplots(self, *args: Any, figsize: tuple[float, float], **kwargs: Any) -> Any:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        return fig, fig.subplots(*args, **kwargs)

    def close(self, fig: Figure) -> None:
        """Nothing to release: no pyplot figure manager holds the figure."""

    def get_cmap(self, name: str) -> Any:
        import matplotlib

        return matplotlib.colormaps[name]


@cache
def figures() -> _Figures:
    """The figures' factory, set up at the first plot."""
    import matplotlib

    # Reproducible SVG element ids, so a regenerated report is byte-identical.
    matplotlib.rcParams["svg.hashsalt"] = "hirisearch"
    return _Figures()


__all__ = [
    "ScalingSeries",
    "latency_vs_gmacs",
    "operator_shares",
    "resolution_scaling",
    "save_figure",
    "series_from_sweep",
    "stage_breakdown",
    "train_memory_scaling",
]


@dataclass(frozen=True)
class ScalingSeries:
    """One model's cost at several input resolutions (each an int for a square, else
    ``(height, width)``; plotted at :func:`~hirisearch.models.resolution.size_side`)."""

    name: str
    family: str
    img_sizes: tuple[int | tuple[int, int], ...]
    gmacs: tuple[float, ...]
    params_m: tuple[float, ...] = ()


def _sides(sizes: Sequence[Any]) -> list[float]:
    return [size_side(s) for s in sizes]


def _side_label(series: Sequence[ScalingSeries]) -> str:
    """The resolution axis' label: a non-square size stands at the side of the square of its
    area."""
    square = all(size_label(s).isdigit() for x in series for s in x.img_sizes)
    return "input resolution (pixels per side" + (")" if square else "; HxW at sqrt(H*W))")


def save_figure(fig: Figure, path: str | Path, *, formats: Sequence[str] = ()) -> list[Path]:
    """Save ``fig`` atomically at ``path`` and, for each extra format (``"svg"``), beside it."""
    import io

    path = Path(path)
    out = []
    for p in [path, *(path.with_suffix("." + f) for f in formats if "." + f != path.suffix)]:
        buf = io.BytesIO()
        kind = p.suffix.lstrip(".") or "png"
        meta = {"Date": None} if kind in ("svg", "pdf") else None  # no timestamps in the files
        fig.savefig(buf, format=kind, dpi=150, bbox_inches="tight", metadata=meta)
        out.append(atomic_write_bytes(p, buf.getvalue()))
    figures().close(fig)
    return out


def resolution_scaling(
    series: Sequence[ScalingSeries],
    path: str | Path,
    *,
    batch: int = 1,
    formats: Sequence[str] = (),
    with_params: bool = False,
) -> list[Path]:
    """GFLOPs against input resolution, one line per model, log scale.

    Global attention grows with the fourth power of the resolution, windowed attention and
    convolutions with the square; on a log axis the difference in slope is what to look at.

    Args:
        with_params: add a second panel with the parameters against resolution (``params_m``);
            they change with the resolution only for models with position embeddings.
    """
    if with_params:
        fig, (ax, pax) = figures().subplots(1, 2, figsize=(12, 4.5))
    else:
        fig, ax = figures().subplots(figsize=(7, 4.5))
    for s in series:
        ax.plot(_sides(s.img_sizes), s.gmacs, marker="o", label=f"{s.name} ({s.family})")
    _log_axis(ax)
    ax.set_xlabel(_side_label(series))
    ax.set_ylabel(f"GFLOPs (log), batch {batch}")
    ax.set_title(f"Cost against resolution; {CONVENTION}", fontsize=9)
    sizes = sorted({size_value(r) for s in series for r in s.img_sizes}, key=size_key)
    if len(sizes) <= 12:
        ax.set_xticks(_sides(sizes), [size_label(r) for r in sizes])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if with_params:
        for s in series:
            pax.plot(_sides(s.img_sizes[: len(s.params_m)]), s.params_m, marker=".", label=s.name)
        pax.set_xlabel(_side_label(series))
        pax.set_ylabel("parameters (M)")
        pax.set_ylim(bottom=0)
        pax.set_title("Parameters against resolution", fontsize=9)
        if len(sizes) <= 12:
            pax.set_xticks(_sides(sizes), [size_label(r) for r in sizes])
        pax.grid(True, alpha=0.3)
        pax.legend(fontsize=8)
    return save_figure(fig, path, formats=formats)


def series_from_sweep(doc: Mapping[str, Any]) -> list[ScalingSeries]:
    """The lines of a ``sweep`` results document (see :mod:`hirisearch.report.run.schema`)."""
    out = []
    for s in doc["series"]:
        pts = sorted(s["points"], key=lambda p: size_key(p["img_size"]))
        if not pts:
            continue
        out.append(
            ScalingSeries(
                name=s["name"],
                family=s["family"],
                img_sizes=tuple(size_value(p["img_size"]) for p in pts),
                gmacs=tuple(p["macs"] / 1e9 for p in pts),
                params_m=tuple(p["params"] / 1e6 for p in pts),
            )
        )
    return out


def train_memory_scaling(
    series: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    train: Mapping[str, Any],
    formats: Sequence[str] = (),
) -> list[Path]:
    """Peak training memory (GiB, log scale) against input resolution, one line per model of a
    ``sweep --train`` document (points without a training twin left out)."""
    fig, ax = figures().subplots(figsize=(7, 4.5))
    for s in series:
        pts = sorted(
            (size_side(p["img_size"]), p["train_peak_bytes"] / 2**30)
            for p in s["points"]
            if p.get("train_peak_bytes") is not None
        )
        if pts:
            ax.plot(*_xy(pts), marker="o", label=f"{s['name']} ({s['family']})")
    _log_axis(ax)
    ax.set_xlabel("input resolution (pixels per side)")
    ax.set_ylabel("peak training memory (GiB, log)")
    ax.set_title(
        f"Training step: batch {train['batch']}, {train['dtype']}, {train['optimizer']}, "
        f"checkpointing {train['checkpoint']}",
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, formats=formats)


# ----------------------------------------------------------------- profile and compare
def _sizes_label(results: Sequence[Mapping[str, Any]]) -> str:
    sizes = {size_value(r["img_size"]) for r in results}
    batches = sorted({r["batch"] for r in results})
    where = (
        f"at {size_dims(sizes.pop())}"
        if len(sizes) == 1
        else "at each model's input (in its label)"
    )
    return f"{where}, batch {'/'.join(str(b) for b in batches)}"


def _model_label(r: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> str:
    one_size = len({size_value(x["img_size"]) for x in results}) == 1
    return r["name"] if one_size else f"{r['name']}\n@{size_label(r['img_size'])}"


def stage_breakdown(
    results: Sequence[Mapping[str, Any]], path: str | Path, *, formats: Sequence[str] = ()
) -> list[Path]:
    """Per-stage GFLOPs and parameters as stacked bars, one bar per profile result.

    Args:
        results: ``ProfileResult.to_json()`` documents (their ``stages`` are stacked in order).
    """
    names: list[str] = []
    for r in results:
        for st in r["stages"]:
            if st["name"] not in names:
                names.append(st["name"])
    colours = _colours(len(names))
    labels = [_model_label(r, results) for r in results]
    width = min(18.0, max(9.0, 2.0 * len(results) + 6.0))
    fig, (gax, pax) = figures().subplots(1, 2, figsize=(width, 4.8))
    x = range(len(results))
    for ax, key, scale in ((gax, "macs", 1e9), (pax, "params", 1e6)):
        bottom = [0.0] * len(results)
        for ci, name in enumerate(names):
            vals = [
                sum(st[key] for st in r["stages"] if st["name"] == name) / scale for r in results
            ]
            if not any(vals):
                continue
            ax.bar(
                x,
                vals,
                bottom=bottom,
                color=colours[ci],
                label=name,
                width=0.6,
                edgecolor="white",
                linewidth=0.5,
            )
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_xticks(list(x), labels, fontsize=8, rotation=20 if len(results) > 4 else 0)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    gax.set_ylabel(f"GFLOPs per stage, {_sizes_label(results)}")
    gax.set_title(CONVENTION, fontsize=9)
    pax.set_ylabel("parameters per stage (M)")
    pax.set_title("Parameters (independent of the input size)", fontsize=9)
    handles, leg = gax.get_legend_handles_labels()
    fig.legend(
        handles[::-1],
        leg[::-1],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        title="part",
    )
    fig.tight_layout()
    return save_figure(fig, path, formats=formats)


#: Operator categories shown in the share plot, in stacking order, with their legend text.
CATEGORIES = (
    ("conv", "convolution"),
    ("linear", "linear (nn.Linear)"),
    ("attn", "attention matmuls"),
    ("other", "other matmuls"),
    ("norm", "normalisation (counted separately)"),
)


def categories_of(r: Mapping[str, Any]) -> dict[str, int]:
    """The traced operator categories where traced, else the analytic ones."""
    cats = r.get("categories_traced")
    return dict(cats if cats is not None else r["categories"])


def operator_shares(
    results: Sequence[Mapping[str, Any]], path: str | Path, *, formats: Sequence[str] = ()
) -> list[Path]:
    """The share of counted work per operator category, one horizontal 100% bar per result.

    Shares are of MACs plus normalisation work, which the convention reports beside the MACs.
    """
    keys = [k for k, _ in CATEGORIES if any(categories_of(r).get(k, 0) for r in results)]
    colours = dict(zip([k for k, _ in CATEGORIES], _colours(len(CATEGORIES)), strict=True))
    labels = [_model_label(r, results).replace("\n", " ") for r in results]
    fig, ax = figures().subplots(figsize=(9, 1.6 + 0.55 * len(results)))
    y = list(range(len(results)))[::-1]
    left = [0.0] * len(results)
    for k in keys:
        shares = []
        for r in results:
            cats = categories_of(r)
            total = sum(cats.get(c, 0) for c, _ in CATEGORIES) or 1
            shares.append(100.0 * cats.get(k, 0) / total)
        bars = ax.barh(
            y,
            shares,
            left=left,
            color=colours[k],
            height=0.6,
            label=dict(CATEGORIES)[k],
            edgecolor="white",
            linewidth=0.5,
        )
        for b, v, lft in zip(bars, shares, left, strict=True):
            if v >= 6:
                ax.text(
                    lft + v / 2,
                    b.get_y() + b.get_height() / 2,
                    f"{v:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                )
        left = [a + v for a, v in zip(left, shares, strict=True)]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"share of counted work (%), MACs + norm ops, {_sizes_label(results)}")
    ax.set_title(f"Operator categories; {CONVENTION}", fontsize=9)
    ax.legend(
        loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False, title="operator"
    )
    return save_figure(fig, path, formats=formats)


# -------------------------------------------------------------------------------- bench
def latency_vs_gmacs(
    records: Sequence[Mapping[str, Any]], path: str | Path, *, formats: Sequence[str] = ()
) -> list[Path]:
    """Median latency against GFLOPs, IQR as error bars, each point labelled with its achieved
    GMACs/s; one colour per device and dtype.

    Args:
        records: ``bench`` records (see :mod:`hirisearch.report.run.schema`); records without
            ``macs`` are left out.
    """
    recs = [r for r in records if r.get("macs") is not None]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in recs:
        groups.setdefault(f"{r['device']}, {r['dtype']}", []).append(r)
    fig, ax = figures().subplots(figsize=(7.5, 5))
    for (label, rs), colour in zip(groups.items(), _colours(len(groups)), strict=True):
        xs = [r["macs"] / 1e9 for r in rs]
        ys = [r["latency_ms"] for r in rs]
        ax.errorbar(
            xs,
            ys,
            yerr=[[r["iqr_ms"] / 2 for r in rs]] * 2,
            fmt="o",
            color=colour,
            capsize=3,
            label=label,
        )
    # Neighbours along the x axis get their labels on alternate sides, so close points stay legible.
    many_sizes = len({size_value(r["img_size"]) for r in recs}) > 1
    many_batches = len({r["batch"] for r in recs}) > 1
    for i, r in enumerate(sorted(recs, key=lambda r: (r["macs"], r["latency_ms"]))):
        text = r["name"] + (f" @{size_label(r['img_size'])}" if many_sizes else "")
        text += f", batch {r['batch']}" if many_batches else ""
        if r.get("gmacs_per_s") is not None:
            text += f"\n{r['gmacs_per_s']:,.0f} GMACs/s"
        below = i % 2 == 1
        ax.annotate(
            text,
            (r["macs"] / 1e9, r["latency_ms"]),
            textcoords="offset points",
            xytext=(6, -4 if below else 4),
            fontsize=7,
            va="top" if below else "bottom",
        )
    sizes = {size_value(r["img_size"]) for r in recs}
    at = f"at {size_dims(sizes.pop())}" if len(sizes) == 1 else "at each input size (labelled)"
    batches = "/".join(str(b) for b in sorted({r["batch"] for r in recs}))
    ax.set_xlabel(
        f"GFLOPs per batch of {batches} {at} (GMACs, multiply-add once, attention included)"
    )
    ax.set_ylabel("latency per batch, median (ms); bars: IQR")
    ax.set_title("Latency against cost; labels give the achieved GMACs/s", fontsize=9)
    lat = [r["latency_ms"] for r in recs]
    if recs and min(lat) > 0 and max(lat) / min(lat) > 10:
        _log_axis(ax)  # CPU and GPU records together: a log axis keeps both readable
        ax.set_ylabel("latency per batch, median (ms, log); bars: IQR")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlim(0, 1.3 * max((r["macs"] / 1e9 for r in recs), default=1.0))
    ax.margins(y=0.2)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="device, dtype")
    return save_figure(fig, path, formats=formats)


def _log_axis(ax: Any) -> None:
    """A log y axis labelled 1, 2, 5, 10, ... in plain numbers (not 2 x 10^0)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _xy(points: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    return [p[0] for p in points], [p[1] for p in points]


def _colours(n: int) -> list[Any]:
    cmap = figures().get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]
