"""Small statistics for session series, exact on integer units (tenths of a point, or
ten-thousandths of the 0-1 scale). Pure, deterministic.

Means, variances and slopes of integers are rational, so they are returned as `Fraction`s and
compared with thresholds exactly; an SD (a square root) is compared through its square (see
docs/decisions/0009-exact-clinical-arithmetic.md). Floats appear only in the evidence shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

# Two-sided 95% critical values of Student's t by degrees of freedom: the sudden-gain/-loss
# criterion uses 2.776 (df 4: three sessions on each side), 3.182 (df 3: one missing session),
# 4.303 (df 2: one missing on each side). Tang & DeRubeis 1999; R `suddengains`.
T_CRITICAL_95 = {2: 4.303, 3: 3.182, 4: 2.776}


def mean(xs: Sequence[int]) -> Fraction:
    return Fraction(sum(xs), len(xs))


def sample_variance(xs: Sequence[int]) -> Fraction:
    """(n sum(x^2) - (sum x)^2) / (n (n - 1)): the square of the sample SD; 0 below 2 values."""
    n = len(xs)
    if n < 2:
        return Fraction(0)
    total = sum(xs)
    return Fraction(n * sum(x * x for x in xs) - total * total, n * (n - 1))


def pooled_variance(pre: Sequence[int], post: Sequence[int]) -> Fraction:
    """((n_pre - 1) var_pre + (n_post - 1) var_post) / (n_pre + n_post - 2): the square of the
    pooled SD; with three sessions a side the reference's (2 sd_pre^2 + 2 sd_post^2) / 4."""
    n_pre, n_post = len(pre), len(post)
    numerator = (n_pre - 1) * sample_variance(pre) + (n_post - 1) * sample_variance(post)
    return numerator / (n_pre + n_post - 2)


def slope(xs: Sequence[int], ys: Sequence[int]) -> Fraction | None:
    """Least-squares slope of ys on xs; None with fewer than 2 distinct xs."""
    n = len(xs)
    if n < 2:
        return None
    sx, sy = sum(xs), sum(ys)
    sxx = n * sum(x * x for x in xs) - sx * sx
    if sxx == 0:
        return None
    return Fraction(n * sum(x * y for x, y in zip(xs, ys, strict=True)) - sx * sy, sxx)
