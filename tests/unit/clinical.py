"""A small builder of session series for the pure clinical tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import (
    CaseDemographicsSet,
    CaseDemographicsSetPayload,
    CaseInput,
    ClinicalSignal,
    EpisodeEnded,
    EpisodeEndedPayload,
    ResponseSubmitted,
    ResponseSubmittedPayload,
)
from alliance_contracts.instruments import REGISTRY
from alliance_contracts.vocabulary import EpisodeEnding, SignalKind
from alliance_scoring.domain.case import apply, decide, new_case
from alliance_scoring.domain.dyads import demographics_for, score
from alliance_scoring.domain.history import EFFECTIVE
from alliance_scoring.domain.state import CaseState

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
FORMS = {
    ("SRS", "client"): "client",
    ("SRS", "parent"): "client",
    ("CSRS", "client"): "child",
    ("WAI-SR", "client"): "client",
    ("WAI-SR", "therapist"): "therapist",
    ("ORS", "client"): "client",
    ("CORS", "client"): "child",
    ("OQ-45.2", "client"): "client",
    ("TASC-R", "client"): "child",
    ("TASC-R", "parent"): "parent",
}


def response(
    case: str,
    session: int,
    instrument: str,
    total: float,
    *,
    role: str = "client",
    respondent_id: str | None = None,
    age_group: str | None = None,
    answers: dict[int, float | None] | None = None,
    clinic: str = "clinic-a",
    therapist: str = "th-1",
) -> ResponseSubmitted:
    """A response whose items share the total evenly (VAS scales) or as given."""
    spec = REGISTRY[instrument]
    if answers is None:
        per_item = round(total / spec.items, spec.decimals)
        answers = dict.fromkeys(range(1, spec.items + 1), per_item)
    at = T0 + timedelta(weeks=session)
    return ResponseSubmitted.model_validate(
        {
            "event_id": uuid.uuid4(),
            "clinic_id": clinic,
            "case_id": case,
            "occurred_at": at,
            "recorded_at": at,
            "payload": ResponseSubmittedPayload.model_validate(
                {
                    "therapist_id": therapist,
                    "respondent_role": role,
                    "respondent_id": respondent_id,
                    "instrument": instrument,
                    "form": FORMS[(instrument, role)],
                    "session_number": session,
                    "administered_at": at,
                    "answers": answers,
                    "age_group": age_group,
                }
            ),
        }
    )


def ended(case: str, ending: str, session: int, clinic: str = "clinic-a") -> EpisodeEnded:
    at = T0 + timedelta(weeks=session, days=1)
    return EpisodeEnded(
        event_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=case,
        occurred_at=at,
        recorded_at=at,
        payload=EpisodeEndedPayload(
            therapist_id="th-1",
            ending=EpisodeEnding(ending),
            ended_at=at,
            last_session_number=session,
        ),
    )


def demographics(
    case: str,
    session: int,
    *,
    age_group: str | None = None,
    oq_norm_set: str | None = None,
    recorded_days_later: int = 0,
    clinic: str = "clinic-a",
) -> CaseDemographicsSet:
    """A change effective at the administration time of `session` (clinical.py's calendar)."""
    effective = T0 + timedelta(weeks=session)
    return CaseDemographicsSet.model_validate(
        {
            "event_id": uuid.uuid4(),
            "clinic_id": clinic,
            "case_id": case,
            "occurred_at": effective,
            "recorded_at": effective + timedelta(days=recorded_days_later),
            "payload": CaseDemographicsSetPayload.model_validate(
                {
                    "age_group": age_group,
                    "oq_norm_set": oq_norm_set,
                    "effective_from": effective,
                    "set_by": "admin-1",
                }
            ),
        }
    )


@dataclass
class Run:
    state: CaseState
    signals: list[ClinicalSignal] = field(default_factory=list)

    def kinds(self) -> list[SignalKind]:
        return [s.payload.kind for s in self.signals]

    def of(self, kind: SignalKind) -> list[ClinicalSignal]:
        return [s for s in self.signals if s.payload.kind == kind]


def fold(events: Sequence[CaseInput], config: ClinicalConfig = DEFAULT_CONFIG) -> Run:
    first = events[0]
    run = Run(new_case(first.clinic_id, first.case_id))
    for event in events:
        assert isinstance(event, EFFECTIVE)  # inputs in clinical order
        scored = (
            score(event, event.recorded_at, demographics=demographics_for(run.state, event))
            if isinstance(event, ResponseSubmitted)
            else None
        )
        after = apply(run.state, event, scored, config)
        run.signals.extend(decide(run.state, after, event, scored, config))
        run.state = after
    return run


def srs_series(case: str, totals: Sequence[float], **kw: str) -> list[CaseInput]:
    return [response(case, s, "SRS", t, **kw) for s, t in enumerate(totals, start=1)]  # type: ignore[arg-type]


def ors(case: str, session: int, total: float, **kw: str) -> CaseInput:
    return response(case, session, "ORS", total, **kw)  # type: ignore[arg-type]
