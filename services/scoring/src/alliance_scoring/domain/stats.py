"""Small statistics for session series. Pure, deterministic."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Two-sided 95% critical values of Student's t by degrees of freedom: the sudden-gain/-loss
# criterion uses 2.776 (df 4: three sessions on each side), 3.182 (df 3: one missing session),
# 4.303 (df 2: one missing on each side). Tang & DeRubeis 1999; R `suddengains`.
T_CRITICAL_95 = {2: 4.303, 3: 3.182, 4: 2.776}


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def sample_sd(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ys on xs; None with fewer than 2 distinct xs."""
    if len(xs) < 2:
        return None
    mx, my = mean(xs), mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def pooled_sd(pre: Sequence[float], post: Sequence[float]) -> float:
    """sqrt(((n_pre - 1) sd_pre^2 + (n_post - 1) sd_post^2) / (n_pre + n_post - 2)); with three
    sessions a side this is the reference's sqrt((2 sd_pre^2 + 2 sd_post^2) / 4)."""
    n_pre, n_post = len(pre), len(post)
    numerator = (n_pre - 1) * sample_sd(pre) ** 2 + (n_post - 1) * sample_sd(post) ** 2
    return math.sqrt(numerator / (n_pre + n_post - 2))
