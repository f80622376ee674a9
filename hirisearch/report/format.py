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


def ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def mib(n: int | None) -> str:
    """Bytes in MiB ("123.4 MiB"); GiB from 10 GiB up."""
    if n is None:
        return "-"
    if n >= 10 * 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.1f} MiB"


def rate(x: float | None, digits: int = 1) -> str:
    """A rate (images/s, GMACs/s)."""
    return "-" if x is None else f"{x:.{digits}f}"
