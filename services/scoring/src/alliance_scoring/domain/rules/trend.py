"""Alliance trend: the least-squares slope of a dyad's latest alliance ratings. Pure.

Inputs: the last `trend_window_sessions` ratings (at least 3) on one alliance instrument, on the
0-1 scale. Threshold: `declining_slope` (docs/clinical.md, 3.6). Evolves: `DyadState.trend`.
Detects nothing by itself: a declining alliance blocks termination readiness (`readiness`).
"""

from __future__ import annotations

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.exact import (
    SHARE_UNITS,
    round_half_away,
    share_units,
    threshold_share_units,
)
from alliance_contracts.instruments import Instrument
from alliance_scoring.domain.state import Point, Trend
from alliance_scoring.domain.stats import slope


def evolve(
    instrument: Instrument, series: tuple[Point, ...], config: ClinicalConfig
) -> Trend | None:
    """The trend over the series' latest window; None when too short to have one."""
    window = series[-int(config.trend_window_sessions.value) :]
    if len(window) < 3:
        return None
    # Exact: the slope of ten-thousandths on session numbers is rational; it is compared with
    # the threshold unrounded (the slope shown is rounded to 4 decimals, halves away from zero).
    units = slope([p.session_number for p in window], [share_units(p.normalized) for p in window])
    if units is None:
        return None
    return Trend(
        instrument=instrument.code,
        slope_per_session=round_half_away(units / SHARE_UNITS, 4),
        sessions=len(window),
        declining=units < threshold_share_units(config.declining_slope.value),
    )
