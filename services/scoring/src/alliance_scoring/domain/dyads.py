"""Scoring one response and naming its dyad. Pure: no I/O, no clock, no randomness."""

from __future__ import annotations

import uuid
from datetime import datetime

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import (
    DyadRef,
    ResponseScored,
    ResponseScoredPayload,
    ResponseSubmitted,
    derived_event_id,
)
from alliance_contracts.instruments import REGISTRY, RuleBroken, score_response, validate_response
from alliance_scoring.domain.history import response_of
from alliance_scoring.domain.rules.outcome import clinical_range
from alliance_scoring.domain.state import CaseState, Demographics, copy_with

DYAD_NAMESPACE = uuid.UUID("0b7d3f5e-2c1a-4e8b-9f3d-6a5c4b3e2d1f")


class UnscorableResponse(RuleBroken):
    """The response breaks its instrument's rules (it did not come through intake's checks)."""


def dyad_of(event: ResponseSubmitted) -> DyadRef:
    p = event.payload
    key = (
        f"{event.clinic_id}|{event.case_id}|{p.therapist_id}|{p.respondent_role.value}|"
        f"{p.respondent_id or ''}"
    )
    return DyadRef(
        dyad_id=uuid.uuid5(DYAD_NAMESPACE, key),
        therapist_id=p.therapist_id,
        respondent_role=p.respondent_role,
        respondent_id=p.respondent_id,
    )


def demographics_for(case: CaseState, event: ResponseSubmitted) -> Demographics:
    """The case's demographics as they apply to this response: a response that carries an age
    group sets the case's band from its administration on; one without keeps the case's."""
    current = case.demographics
    band = event.payload.age_group
    if band is None or band == current.age_group:
        return current
    return copy_with(current, age_group=band, effective_from=event.payload.administered_at)


def score(
    event: ResponseSubmitted,
    recorded_at: datetime,
    config: ClinicalConfig = DEFAULT_CONFIG,
    demographics: Demographics | None = None,
) -> ResponseScored:
    """The scored response; `config` is the clinic's configuration in force at administration
    and `demographics` the case's as they apply to it (`demographics_for`; by default the
    response's own age group), whose cut-off the score is judged against."""
    p = event.payload
    if demographics is None:
        demographics = Demographics(age_group=p.age_group)
    # Intake refuses an item left out (decision 0028); one in the log was accepted before that
    # as a blank, and is scored as one, so a replay gives what the live fold gave.
    violations = validate_response(
        p.instrument, p.form, p.respondent_role, p.answers, left_out_is_blank=True
    )
    if violations:
        raise UnscorableResponse("; ".join(f"{v.field}: {v.rule}" for v in violations))
    result = score_response(p.instrument, p.answers)
    return ResponseScored(
        event_id=derived_event_id("scored", event.event_id),
        clinic_id=event.clinic_id,
        case_id=event.case_id,
        occurred_at=event.occurred_at,
        recorded_at=recorded_at,
        config_version=event.config_version,
        payload=ResponseScoredPayload(
            source_event_id=event.event_id,
            response_id=response_of(event),
            dyad=dyad_of(event),
            instrument=p.instrument,
            form=p.form,
            session_number=p.session_number,
            administered_at=p.administered_at,
            total=result.total,
            subscales=dict(result.subscales),
            normalized=result.normalized,
            scoring_key=result.scoring_key,
            prorated_items=list(result.prorated_items),
            critical_items=list(result.critical_items),
            clinical_range=clinical_range(
                REGISTRY[p.instrument], result.total, demographics, config
            ),
        ),
    )
