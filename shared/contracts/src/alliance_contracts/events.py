"""Versioned event contracts. Every event carries the same envelope; payloads are per type.

Changing a payload in a backwards-incompatible way means a new `schema_version` (and a new
model), never an edit in place: the topics keep their full history and are replayed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from alliance_contracts.ids import CaseId, ClinicId, Note, PseudonymousId, TherapistId
from alliance_contracts.timing import Timestamp
from alliance_contracts.upcasts import typed_fields_from_evidence
from alliance_contracts.vocabulary import (
    AgeGroup,
    AlertAction,
    AlertCommandAction,
    AlertKind,
    AlertPriority,
    AlertStatus,
    EpisodeEnding,
    Phase,
    RespondentRole,
    RuleName,
    Severity,
    SignalKind,
    StaffRole,
)

# Namespace for deterministic ids of derived events (uuid5): a redelivered input yields the
# same derived event id, so every consumer downstream can de-duplicate.
DERIVED_EVENT_NAMESPACE = uuid.UUID("6f1e3c0a-5b8e-4d6e-9a51-3e0c2d7a9b10")


def derived_event_id(kind: str, *parts: object) -> uuid.UUID:
    return uuid.uuid5(DERIVED_EVENT_NAMESPACE, ":".join([kind, *map(str, parts)]))


class Frozen(BaseModel):
    # No infinities or NaN: they have no JSON form (and no clinical meaning).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class EventEnvelope(Frozen):
    """Fields every event has. `occurred_at` is when it happened in the clinic (event time);
    `recorded_at` is when the platform recorded it (processing time)."""

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    clinic_id: ClinicId
    case_id: CaseId
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime


ItemNumber = Annotated[int, Field(ge=1, le=200)]


class ResponseSubmittedPayload(Frozen):
    therapist_id: TherapistId
    respondent_role: RespondentRole
    respondent_id: PseudonymousId | None = Field(
        None, description="Pseudonymous id of the respondent when several share a role (parents)."
    )
    instrument: str = Field(description="Instrument code, e.g. SRS, WAI-SR.")
    form: str = Field(description="Form of the instrument, e.g. client, therapist, child.")
    session_number: int = Field(ge=1, le=1000)
    administered_at: Timestamp
    answers: dict[ItemNumber, float | None] = Field(
        description="Item number (1-based) to the answer; null marks a missing item. Each "
        "instrument's items and answer ranges are in docs/clinical.md; a broken item rule "
        "answers 422 naming the item.",
        json_schema_extra={
            "propertyNames": {"pattern": "^[1-9][0-9]{0,2}$"},
            "maxProperties": 200,
        },
    )
    age_group: AgeGroup | None = Field(
        None,
        description="The client's age group, for age-normed cut-offs (ORS). Defaults: ORS adult, "
        "CORS child.",
    )


class ResponseSubmitted(EventEnvelope):
    """A questionnaire response accepted by intake. Topic: responses."""

    event_type: Literal["response.submitted"] = "response.submitted"
    schema_version: Literal[1] = 1
    config_version: int = Field(
        0,
        ge=0,
        description="The clinic's latest configuration version when intake accepted the "
        "response (0: the defaults). Scoring applies the version in force at administration "
        "among those, so a replay reproduces the same state.",
    )
    payload: ResponseSubmittedPayload


class EpisodeEndedPayload(Frozen):
    therapist_id: TherapistId
    ending: EpisodeEnding
    ended_at: Timestamp
    last_session_number: int | None = Field(None, ge=1)


class EpisodeEnded(EventEnvelope):
    """The end of a treatment episode, planned or unilateral. Topic: responses (so it is ordered
    with the case's responses)."""

    event_type: Literal["episode.ended"] = "episode.ended"
    schema_version: Literal[1] = 1
    payload: EpisodeEndedPayload


CaseInput = Annotated[ResponseSubmitted | EpisodeEnded, Field(discriminator="event_type")]


CLINIC_LEVEL_CASE_ID = "clinic-level"  # the envelope's case id on clinic-wide events


class ClinicConfiguredPayload(Frozen):
    version: int = Field(ge=1, description="Increments by one per clinic.")
    effective_from: AwareDatetime = Field(
        description="Responses administered from then on use this configuration."
    )
    configuration: dict[str, Any] = Field(
        description="The complete clinical configuration (ClinicalConfig), defaults included, "
        "so a replay does not depend on the defaults of the code that replays it."
    )
    overrides: dict[str, Any] = Field(description="What the clinic changed from the defaults.")


class ClinicConfigured(EventEnvelope):
    """A clinic's clinical configuration changed. Topic: config (key: clinic id)."""

    event_type: Literal["clinic.configured"] = "clinic.configured"
    schema_version: Literal[1] = 1
    payload: ClinicConfiguredPayload


class DyadRef(Frozen):
    """A therapeutic dyad: a therapist and one respondent (role) within a case."""

    dyad_id: uuid.UUID
    therapist_id: TherapistId
    respondent_role: RespondentRole
    respondent_id: PseudonymousId | None = None


class ResponseScoredPayload(Frozen):
    source_event_id: uuid.UUID
    dyad: DyadRef
    instrument: str
    form: str
    session_number: int
    administered_at: AwareDatetime
    total: float
    subscales: dict[str, float]
    normalized: float = Field(
        ge=0, le=1, description="Total on a 0-1 scale (share of range), 1 = the good end."
    )
    scoring_key: str = Field(description="Key and version the score was computed with.")
    prorated_items: list[int] = Field(
        default_factory=list, description="Blank items filled from their subscale's mean."
    )
    critical_items: list[int] = Field(
        default_factory=list, description="Critical items answered above 'never' (OQ-45.2)."
    )


class ResponseScored(EventEnvelope):
    """A response scored by the scoring service. Topic: scored. Id derived from the source."""

    event_type: Literal["response.scored"] = "response.scored"
    schema_version: Literal[1] = 1
    config_version: int = Field(0, ge=0, description="As on the response it scores.")
    payload: ResponseScoredPayload


class RuleEvidence(Frozen):
    """Which rule fired, with what inputs and threshold, and where the threshold comes from."""

    rule: RuleName
    inputs: dict[str, Any]
    threshold: float
    citation: str


class DyadPair(Frozen):
    """A child's dyad and a parent's dyad of the same case (a split alliance is between them)."""

    child_dyad_id: uuid.UUID
    parent_dyad_id: uuid.UUID


class PhaseChange(Frozen):
    from_phase: Phase
    to_phase: Phase


class ClinicalSignalPayload(Frozen):
    kind: SignalKind
    dyad: DyadRef | None = Field(None, description="The dyad concerned; null for case signals.")
    instrument: str | None = None
    session_number: int | None = None
    source_event_id: uuid.UUID
    severity: Severity | None = None
    summary: str = Field(description="One line for a clinician, without personal data.")
    evidence: list[RuleEvidence] = Field(description="Every rule that fired, with its inputs.")
    series: str | None = Field(
        None,
        description="deteriorated, off_track: the outcome series concerned (instrument:role, "
        "plus :respondent when several share the role).",
    )
    split: DyadPair | None = Field(None, description="split_detected: the dyads split.")
    phase_change: PhaseChange | None = Field(None, description="phase_changed: from and to.")

    @model_validator(mode="before")
    @classmethod
    def _upcast(cls, data: Any) -> Any:
        # Signals written before these fields existed: docs/decisions/0007.
        return typed_fields_from_evidence(data) if isinstance(data, dict) else data


class ClinicalSignal(EventEnvelope):
    """A derived clinical event (phase changed, rupture opened/repaired/escalated, split,
    deterioration, off track, critical item, termination ready). Topic: scored. Id derived from
    its source event and kind."""

    event_type: Literal["clinical.signal"] = "clinical.signal"
    schema_version: Literal[1] = 1
    config_version: int = Field(0, ge=0, description="As on the response that caused it.")
    payload: ClinicalSignalPayload


class AlertNoticePayload(Frozen):
    alert_id: uuid.UUID
    kind: AlertKind
    action: AlertAction
    status: AlertStatus
    priority: AlertPriority
    severity: Severity | None = None
    dyad: DyadRef | None = None
    subject: str = Field(description="What the alert is about within the case (de-duplication).")
    instrument: str | None = None
    session_number: int | None = None
    summary: str
    recipients: list[PseudonymousId] = Field(description="Staff ids to notify.")
    escalated: bool = False
    snoozed_until: AwareDatetime | None = None
    actor_id: PseudonymousId | None = Field(None, description="Who acted; null: the system.")
    note: str | None = None
    source_event_id: uuid.UUID
    evidence: list[RuleEvidence] = Field(default_factory=list)


class AlertNotice(EventEnvelope):
    """An alert raised or changed (every transition is one). Topic: notices. Ids are derived
    from the source event and the transition, so replays and redeliveries repeat them."""

    event_type: Literal["alert.notice"] = "alert.notice"
    schema_version: Literal[1] = 1
    payload: AlertNoticePayload


class AlertCommandPayload(Frozen):
    alert_id: uuid.UUID
    action: AlertCommandAction
    actor_id: PseudonymousId
    note: Note | None = None
    snooze_until: Timestamp | None = None
    assignee_id: PseudonymousId | None = None


class AlertCommand(EventEnvelope):
    """A user's command on an alert (from the gateway). Topic: commands (key: case id). Only the
    alerts service applies it."""

    event_type: Literal["alert.command"] = "alert.command"
    schema_version: Literal[1] = 1
    payload: AlertCommandPayload


class StaffChangedPayload(Frozen):
    staff_id: PseudonymousId
    role: StaffRole
    active: bool = True


class StaffChanged(EventEnvelope):
    """A clinic's staff roster changed. Topic: config (key: clinic id)."""

    event_type: Literal["staff.changed"] = "staff.changed"
    schema_version: Literal[1] = 1
    payload: StaffChangedPayload


class CaseAssignedPayload(Frozen):
    therapist_id: TherapistId
    transfer: bool = Field(False, description="True when the case moves from another therapist.")


class CaseAssigned(EventEnvelope):
    """The therapist responsible for a case (alerts are routed to them). Topic: config."""

    event_type: Literal["case.assigned"] = "case.assigned"
    schema_version: Literal[1] = 1
    payload: CaseAssignedPayload


ClinicInput = Annotated[
    ClinicConfigured | StaffChanged | CaseAssigned, Field(discriminator="event_type")
]


class EpisodeEndingRequestedPayload(EpisodeEndedPayload):
    requested_by: PseudonymousId  # the person who asked (token subject)


class EpisodeEndingRequested(EventEnvelope):
    """A user asked, through the gateway, to record an episode's end. Topic: intake-commands
    (key: case id). Intake applies it as it applies `POST /v1/episode-endings` (same rules,
    same idempotency record, keyed by this event's id) and publishes `episode.ended`."""

    event_type: Literal["episode.ending.requested"] = "episode.ending.requested"
    schema_version: Literal[1] = 1
    payload: EpisodeEndingRequestedPayload


class CaseAssignmentRequestedPayload(CaseAssignedPayload):
    requested_by: PseudonymousId


class CaseAssignmentRequested(EventEnvelope):
    """A supervisor or clinic admin asked, through the gateway, to assign a case. Topic:
    intake-commands (key: case id). Intake applies it as `PUT .../assignment` and publishes
    `case.assigned`."""

    event_type: Literal["case.assignment.requested"] = "case.assignment.requested"
    schema_version: Literal[1] = 1
    payload: CaseAssignmentRequestedPayload


IntakeCommand = Annotated[
    EpisodeEndingRequested | CaseAssignmentRequested, Field(discriminator="event_type")
]


class ReadAuditedPayload(Frozen):
    subject: PseudonymousId
    role: str
    operation: str | None
    address: str | None
    case_ids: list[CaseId]
    dyad_ids: list[uuid.UUID]


class ReadAudited(EventEnvelope):
    """Client-level data of one clinic was read through the gateway. Topic: audit (key: clinic
    id). `case_id` is the clinic-level marker; the cases read are in the payload."""

    event_type: Literal["read.audited"] = "read.audited"
    schema_version: Literal[1] = 1
    payload: ReadAuditedPayload


ScoringOutput = Annotated[ResponseScored | ClinicalSignal, Field(discriminator="event_type")]
