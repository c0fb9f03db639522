"""Exact clinical arithmetic: points as integer tenths, thresholds as the decimal they are written.

Answers carry at most one decimal (the 0-10 visual analogue scales), so every total, subscale and
difference is a whole number of tenths: integer arithmetic on tenths is exact and independent of
summation order. Thresholds from configuration (cut-offs, reliable-change values, shares, SD
multipliers) are read as the decimal their JSON spelling shows (`Fraction("4.8")`, not the binary
float nearest to 4.8) and compared with `Fraction`s, which Python compares exactly with `int`s.
Wire and read models keep JSON numbers: `from_tenths` gives the float whose shortest spelling is
the exact value (365 -> 36.5). See docs/decisions/0009-exact-clinical-arithmetic.md. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from functools import lru_cache

TENTHS_PER_POINT = 10


def tenths(points: float) -> int:
    """The whole number of tenths in a score given as a JSON number (36.5 -> 365).

    Exact for every value with at most one decimal: the float nearest to such a value is within
    far less than half a tenth of it. Scores and answers are validated to one decimal at most.
    """
    return round(points * TENTHS_PER_POINT)


def from_tenths(count: int | Fraction) -> float:
    """A number of tenths as the JSON number shown on the wire and in read models (365 -> 36.5).

    Integer true division is correctly rounded: the float nearest to the exact value."""
    if isinstance(count, int):
        return count / TENTHS_PER_POINT
    return float(count / TENTHS_PER_POINT)


def sum_tenths(points: Iterable[float]) -> int:
    return sum(tenths(p) for p in points)


@lru_cache(maxsize=1024)
def decimal(value: float) -> Fraction:
    """A configured number exactly as it is written (its shortest decimal spelling): 4.8 is
    48/10, not the binary float 4.79999999999999982236431605997495353221893310546875."""
    return Fraction(repr(value))


def _whole_if_possible(value: Fraction) -> int | Fraction:
    # Comparing int with int is much cheaper than with a Fraction, and just as exact.
    return value.numerator if value.denominator == 1 else value


@lru_cache(maxsize=1024)
def threshold_tenths(value: float) -> int | Fraction:
    """A threshold in points, in tenths (exactly: a clinic may configure a finer value)."""
    return _whole_if_possible(decimal(value) * TENTHS_PER_POINT)


def round_half_away(value: Fraction, decimals: int) -> float:
    """An exact value shown to `decimals` places, halves rounded away from zero (0.04625 ->
    0.0463, -0.06525 -> -0.0653): symmetric for rises and falls, and independent of float noise."""
    scale: int = 10**decimals
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return (magnitude if value >= 0 else -magnitude) / scale


def reaches(amount: int | Fraction, threshold: int | Fraction, *, inclusive: bool) -> bool:
    """`amount >= threshold` when a value exactly on the threshold counts, else `>`."""
    return amount >= threshold if inclusive else amount > threshold


# 0-1 shares (Instrument.normalize) are kept to 4 decimals: whole ten-thousandths.
SHARE_UNITS = 10_000


def share_units(share: float) -> int:
    """The whole number of ten-thousandths in a 4-decimal share (0.3125 -> 3125)."""
    return round(share * SHARE_UNITS)


@lru_cache(maxsize=1024)
def threshold_share_units(value: float) -> int | Fraction:
    """A threshold on the 0-1 scale (or per session on it), in ten-thousandths, exactly."""
    return _whole_if_possible(decimal(value) * SHARE_UNITS)


def share_difference(a: float, b: float) -> float:
    """a - b of two 4-decimal shares, exactly (as the float that spells the exact difference)."""
    return (share_units(a) - share_units(b)) / SHARE_UNITS
