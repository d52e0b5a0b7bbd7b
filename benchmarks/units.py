"""How numbers are written in the report: durations, ratios, rates, spreads."""

from __future__ import annotations

import math

from benchmarks.measure import Stats

__all__ = ["DASH", "NONE", "TIMES", "duration", "rate", "ratio", "spread"]

DASH = "\u2013"  # en dash, for ranges
TIMES = "\u00d7"  # multiplication sign, for ratios
NONE = DASH  # a cell with nothing measured


def duration(seconds: float) -> str:
    """``412 µs``, ``1.25 ms``, ``2.1 s``: three significant figures, a readable unit."""
    if math.isnan(seconds):
        return NONE
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            value = seconds / scale
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")


def spread(stats: Stats) -> str:
    """The median with its interquartile range: ``412 µs (398 µs to 430 µs)``, en dash."""
    return f"{duration(stats.median)} ({duration(stats.p25)}{DASH}{duration(stats.p75)})"


def ratio(value: float) -> str:
    if math.isnan(value):
        return NONE
    return f"{value:.2f}{TIMES}" if value < 10 else f"{value:.0f}{TIMES}"


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}/s"
