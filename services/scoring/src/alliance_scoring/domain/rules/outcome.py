"""Outcome progress against the intake baseline: Jacobson-Truax classes, reliable
deterioration, and a not-on-track signal from an expected curve. Pure.

Jacobson & Truax 1991: a change is reliable when it reaches the reliable-change value (ORS 5,
OQ-45.2 14 US / 18 NL). Recovered = reliable improvement and crossed the cut-off into the
functional range; improved = reliable improvement only; deteriorated = reliable worsening;
otherwise unchanged. Clients who start in the functional range cannot recover by definition.
The expected curve (improvement = gain * ln(session) by intake band) approximates the
proprietary expected-treatment-response curves; its parameters are configuration.

Inputs: each outcome series (ORS, CORS, OQ-45.2; one per instrument and respondent) against its
first administration. Thresholds: `ors_cutoffs`, `ors_reliable_change`, the OQ-45.2 norm set,
`expected_curves` (docs/clinical.md, 3.9-3.10). Evolves: `CaseState.outcomes` (`evolve`).
Detects: `deteriorated` (rule `deterioration`) and `off_track` (rule `off_track`) (`detect`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alliance_contracts.clinical_config import Boundary, ClinicalConfig
from alliance_contracts.events import (
    ClinicalRange,
    ClinicalSignal,
    ResponseScoredPayload,
    RuleEvidence,
)
from alliance_contracts.exact import decimal, from_tenths, reaches, tenths, threshold_tenths
from alliance_contracts.instruments import Instrument
from alliance_contracts.vocabulary import AgeGroup, OutcomeClass, RuleName, Severity, SignalKind
from alliance_scoring.domain.state import Demographics, OutcomeState, Point
from alliance_scoring.domain.step import Step


@dataclass(frozen=True, slots=True)
class Thresholds:
    """An outcome instrument's cut-off and reliable-change value for one client, and where the
    cut-off comes from: the age band (ORS, CORS) or the norm set (OQ-45.2)."""

    cutoff: float
    reliable_change: float
    age_group: AgeGroup | None = None
    norm_set: str | None = None


def thresholds(
    instrument: Instrument, demographics: Demographics, config: ClinicalConfig
) -> Thresholds | None:
    """The thresholds of an outcome instrument for this client, by the case's demographics as
    they apply to the administration (its age band; its norm set, else the clinic's); none for
    other instruments."""
    if instrument.code in ("ORS", "CORS"):
        default = AgeGroup.CHILD if instrument.code == "CORS" else AgeGroup.ADULT
        band = demographics.age_group or default
        cutoff = config.ors_cutoffs[band.value]
        return Thresholds(cutoff.value, config.ors_reliable_change.value, age_group=band)
    if instrument.code == "OQ-45.2":
        norm_set = demographics.oq_norm_set or config.oq_norm_set
        norms = config.norm_sets[norm_set]
        return Thresholds(norms.cutoff.value, norms.reliable_change.value, norm_set=norm_set)
    return None


def clinical_range(
    instrument: Instrument, total: float, demographics: Demographics, config: ClinicalConfig
) -> ClinicalRange | None:
    """How a total is judged against its cut-off (recorded on the score as judged now)."""
    limits = thresholds(instrument, demographics, config)
    if limits is None:
        return None
    return ClinicalRange(
        cutoff=limits.cutoff,
        clinical=not functional(total, limits.cutoff, instrument.higher_is_better),
        age_group=limits.age_group,
        norm_set=limits.norm_set,
    )


def functional(total: float, cutoff: float, higher_is_better: bool) -> bool:
    """On the functional side of the cut-off, decided in exact tenths. ORS: below the cut-off is
    the clinical range, so a total exactly on it is functional ("below 25"). OQ-45.2: at or above
    it is the clinical range (">= 63"), so a total exactly on it is clinical."""
    at, line = tenths(total), threshold_tenths(cutoff)
    return at >= line if higher_is_better else at < line


def classify(
    baseline: float,
    latest: float,
    cutoff: float,
    rcv: float,
    higher_is_better: bool,
    boundary: Boundary,
) -> tuple[int, OutcomeClass]:
    """The improvement in tenths (in the instrument's good direction) and its Jacobson-Truax
    class. Exact: a change of exactly the reliable-change value is reliable when the clinic's
    `reliable_change_boundary` is inclusive (the default), whatever the totals' float spelling."""
    change = tenths(latest) - tenths(baseline)
    improvement = change if higher_is_better else -change
    reliable = threshold_tenths(rcv)
    if reaches(-improvement, reliable, inclusive=boundary.inclusive):
        return improvement, OutcomeClass.DETERIORATED
    if reaches(improvement, reliable, inclusive=boundary.inclusive):
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
    demographics: Demographics,
    config: ClinicalConfig,
) -> OutcomeState | None:
    limits = thresholds(instrument, demographics, config)
    if limits is None:
        return None
    cutoff, rcv = limits.cutoff, limits.reliable_change
    baseline = previous.baseline if previous else point
    if previous and point.session_number < previous.latest.session_number:
        return previous  # a late older administration does not move progress
    improvement, outcome_class = classify(
        baseline.total,
        point.total,
        cutoff,
        rcv,
        instrument.higher_is_better,
        config.reliable_change_boundary,
    )
    streak = (
        (previous.recovered_streak if previous else 0) + 1 if outcome_class == "recovered" else 0
    )
    expected, on_track, band_name = None, None, None
    band = config.curve_for(instrument.code, baseline.total)
    # Sessions are counted from the baseline: a first measure at session 3 is session 1 of its
    # curve.
    curve_session = point.session_number - baseline.session_number + 1
    if band is not None and config.enabled(RuleName.OFF_TRACK) and curve_session >= 2:
        band_name = band.name
        # ln is irrational: the expected improvement is rounded to 3 decimals (as shown), then
        # the improvement is compared with it exactly (at the limit is on track).
        expected = round(band.gain_per_log_session.value * math.log(curve_session), 3)
        limit = threshold_tenths(expected) - threshold_tenths(band.tolerance.value)
        on_track = improvement >= limit
    return OutcomeState(
        instrument=instrument.code,
        respondent_id=respondent_id,
        respondent_role=role,
        baseline=baseline,
        latest=point,
        cutoff=cutoff,
        reliable_change=rcv,
        higher_is_better=instrument.higher_is_better,
        improvement=from_tenths(improvement),
        outcome_class=outcome_class,
        recovered_streak=streak,
        expected_improvement=expected,
        on_track=on_track,
        curve_band=band_name,
        tolerance=band.tolerance.value if band is not None and expected is not None else None,
    )


def evolve(
    outcomes: dict[str, OutcomeState],
    instrument: Instrument,
    scored: ResponseScoredPayload,
    point: Point,
    demographics: Demographics,
    config: ClinicalConfig,
) -> dict[str, OutcomeState]:
    """The case's outcome series after this administration of an outcome instrument."""
    dyad = scored.dyad
    # One series per respondent: two caregivers' CORS are two series.
    key = f"{scored.instrument}:{dyad.respondent_role.value}"
    if dyad.respondent_id:
        key += f":{dyad.respondent_id}"
    outcome = advance_outcome(
        outcomes.get(key),
        instrument,
        dyad.respondent_role.value,
        dyad.respondent_id,
        point,
        demographics,
        config,
    )
    return outcomes if outcome is None else {**outcomes, key: outcome}


def detect(step: Step) -> list[ClinicalSignal]:
    """Per outcome series: newly deteriorated, then newly off track."""
    signals: list[ClinicalSignal] = []
    for key, o in step.after.outcomes.items():
        was = step.before.outcomes.get(key)
        inputs = {
            "baseline": o.baseline.total,
            "latest": o.latest.total,
            "improvement": o.improvement,
            "reliable_change": o.reliable_change,
            "cutoff": o.cutoff,
            "session_number": o.latest.session_number,
            "series": key,
        }
        if (
            o.outcome_class == "deteriorated"
            and step.config.enabled(RuleName.DETERIORATION)
            and (was is None or was.outcome_class != "deteriorated")
        ):
            evidence = RuleEvidence(
                rule=RuleName.DETERIORATION,
                inputs=inputs,
                threshold=o.reliable_change,
                citation="Jacobson & Truax 1991",
            )
            signals.append(
                step.signal(
                    SignalKind.DETERIORATED,
                    key,
                    f"{o.instrument} reliably worse than at intake ({o.improvement:+g} points)",
                    [evidence],
                    instrument=o.instrument,
                    session=o.latest.session_number,
                    severity=Severity.HIGH,
                    series=key,
                )
            )
        if o.on_track is False and (was is None or was.on_track is not False):
            evidence = RuleEvidence(
                rule=RuleName.OFF_TRACK,
                inputs={
                    **inputs,
                    "expected_improvement": o.expected_improvement,
                    "tolerance": o.tolerance,
                    "band": o.curve_band,
                },
                # Not on track: improvement below expected minus the tolerance (exact decimals).
                threshold=float(
                    decimal(o.expected_improvement or 0.0) - decimal(o.tolerance or 0.0)
                ),
                citation="expected curve gain*ln(session) by intake band "
                "(Finch et al. 2001 method; approximation)",
            )
            signals.append(
                step.signal(
                    SignalKind.OFF_TRACK,
                    key,
                    f"{o.instrument} below the expected curve ({o.curve_band} intake band)",
                    [evidence],
                    instrument=o.instrument,
                    session=o.latest.session_number,
                    severity=Severity.MODERATE,
                    series=key,
                )
            )
    return signals
