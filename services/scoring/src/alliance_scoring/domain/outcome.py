"""Outcome progress against the intake baseline: Jacobson-Truax classes, reliable
deterioration, and a not-on-track signal from an expected curve. Pure.

Jacobson & Truax 1991: a change is reliable when it reaches the reliable-change value (ORS 5,
OQ-45.2 14 US / 18 NL). Recovered = reliable improvement and crossed the cut-off into the
functional range; improved = reliable improvement only; deteriorated = reliable worsening;
otherwise unchanged. Clients who start in the functional range cannot recover by definition.
The expected curve (improvement = gain * ln(session) by intake band) approximates the
proprietary expected-treatment-response curves; its parameters are configuration.
"""

from __future__ import annotations

import math

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.instruments import Instrument
from alliance_contracts.vocabulary import AgeGroup, OutcomeClass
from alliance_scoring.domain.state import OutcomeState, Point


def thresholds(
    instrument: Instrument, age_group: AgeGroup | None, config: ClinicalConfig
) -> tuple[float, float] | None:
    """(cut-off, reliable-change value) of an outcome instrument for this client."""
    if instrument.code in ("ORS", "CORS"):
        default = AgeGroup.CHILD if instrument.code == "CORS" else AgeGroup.ADULT
        cutoff = config.ors_cutoffs[(age_group or default).value]
        return cutoff.value, config.ors_reliable_change.value
    if instrument.code == "OQ-45.2":
        norms = config.norm_set()
        return norms.cutoff.value, norms.reliable_change.value
    return None


def functional(total: float, cutoff: float, higher_is_better: bool) -> bool:
    # ORS: below the cut-off is the clinical range. OQ-45.2: at or above it is.
    return total >= cutoff if higher_is_better else total < cutoff


def classify(
    baseline: float, latest: float, cutoff: float, rcv: float, higher_is_better: bool
) -> tuple[float, OutcomeClass]:
    improvement = (latest - baseline) if higher_is_better else (baseline - latest)
    if improvement <= -rcv:
        return improvement, OutcomeClass.DETERIORATED
    if improvement >= rcv:
        crossed = not functional(baseline, cutoff, higher_is_better) and functional(
            latest, cutoff, higher_is_better
        )
        return improvement, OutcomeClass.RECOVERED if crossed else OutcomeClass.IMPROVED
    return improvement, OutcomeClass.UNCHANGED


def advance_outcome(
    previous: OutcomeState | None,
    instrument: Instrument,
    role: str,
    respondent_id: str | None,
    point: Point,
    age_group: AgeGroup | None,
    config: ClinicalConfig,
) -> OutcomeState | None:
    limits = thresholds(instrument, age_group, config)
    if limits is None:
        return None
    cutoff, rcv = limits
    baseline = previous.baseline if previous else point
    if previous and point.session_number < previous.latest.session_number:
        return previous  # a late older administration does not move progress
    improvement, outcome_class = classify(
        baseline.total, point.total, cutoff, rcv, instrument.higher_is_better
    )
    streak = (
        (previous.recovered_streak if previous else 0) + 1 if outcome_class == "recovered" else 0
    )
    expected, on_track, band_name = None, None, None
    band = config.curve_for(instrument.code, baseline.total)
    # Sessions are counted from the baseline: a first measure at session 3 is session 1 of its
    # curve.
    curve_session = point.session_number - baseline.session_number + 1
    if band is not None and config.enabled("off_track") and curve_session >= 2:
        band_name = band.name
        expected = round(band.gain_per_log_session.value * math.log(curve_session), 3)
        on_track = improvement >= expected - band.tolerance.value
    return OutcomeState(
        instrument=instrument.code,
        respondent_id=respondent_id,
        respondent_role=role,
        baseline=baseline,
        latest=point,
        cutoff=cutoff,
        reliable_change=rcv,
        higher_is_better=instrument.higher_is_better,
        improvement=round(improvement, 3),
        outcome_class=outcome_class,
        recovered_streak=streak,
        expected_improvement=expected,
        on_track=on_track,
        curve_band=band_name,
        tolerance=band.tolerance.value if band is not None and expected is not None else None,
    )
