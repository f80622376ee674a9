"""Number formatting, in one place: every table and report goes through these helpers."""

from __future__ import annotations


def params_m(n: int | None) -> str:
    """Parameters in millions, two decimals ("20.95M"); small counts in thousands."""
    if n is None:
        return "-"
    if n < 100_000:
        return f"{n / 1e3:.1f}K"
    return f"{n / 1e6:.2f}M"


def gmacs(n: int | None, digits: int = 3) -> str:
    """MACs in G (the papers' "GFLOPs")."""
    return "-" if n is None else f"{n / 1e9:.{digits}f}"


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}%"


def signed_pct(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x * 100:+.{digits}f}%"


def shape(s: tuple[int, ...] | list[int] | None) -> str:
    return "-" if not s else "x".join(str(d) for d in s)


def millions(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.2f}M"


def ms(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def ms_interval(x: float | None, span: tuple[float, float] | list[float] | None) -> str:
    """A predicted latency with its interval, compactly: ``152 (139-168)``, ``4.21 (3.86-4.60)``
    (no decimals from 100 ms up, one from 10); the bare value without an interval."""
    if x is None:
        return "-"
    digits = 0 if x >= 100 else 1 if x >= 10 else 2
    if span is None:
        return f"{x:.{digits}f}"
    low, high = span
    return f"{x:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def gflops(n: int | None) -> str:
    """MACs in G with precision for papers: 3 decimals below 1, 2 below 100, 1 above."""
    if n is None:
        return "-"
    g = n / 1e9
    return f"{g:.3f}" if g < 1 else f"{g:.2f}" if g < 100 else f"{g:.1f}"


def mib(n: int | None) -> str:
    """Bytes in MiB, one decimal."""
    return "-" if n is None else f"{n / 2**20:,.1f}"


def rate(x: float | None) -> str:
    """A rate (images/s, GMACs/s): no decimals from 100 up, one below."""
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def value(x: object) -> str:
    """A search-space or objective value: floats to 4 significant digits, the rest as text."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    if isinstance(x, (list, tuple)):
        return ",".join(value(v) for v in x)
    return str(x)


def axis_value(x: object) -> str:
    """A configuration's value in the terminal: floats as ``%g``, the rest as text."""
    return f"{x:g}" if isinstance(x, float) else str(x)


def objective(x: float | None) -> str:
    """An objective's value in the terminal: 4 significant digits (integers too)."""
    return "-" if x is None else f"{x:.4g}"


def params_in_m(n: int | None) -> str:
    """Parameters as a bare number of millions (the unit is in the column header): two decimals,
    three below 0.1M."""
    if n is None:
        return "-"
    return f"{n / 1e6:.2f}" if n >= 100_000 else f"{n / 1e6:.3f}"


def memory(n: int | None) -> str:
    """Bytes with their unit ("123.4 MiB"); GiB from 10 GiB up."""
    if n is None:
        return "-"
    if n >= 10 * 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.1f} MiB"
