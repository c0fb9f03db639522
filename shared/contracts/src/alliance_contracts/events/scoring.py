"""What scoring derives: scored responses and clinical signals. Topic: scored (key: case id)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.ids import PseudonymousId, TherapistId
from alliance_contracts.upcasts import typed_fields_from_evidence
from alliance_contracts.vocabulary import (
    AgeGroup,
    Phase,
    RespondentRole,
    RuleName,
    Severity,
    SignalKind,
    WithdrawalReason,
)


class DyadRef(Frozen):
    """A therapeutic dyad: a therapist and one respondent (role) within a case."""

    dyad_id: uuid.UUID
    therapist_id: TherapistId
    respondent_role: RespondentRole
    respondent_id: PseudonymousId | None = None


class ClinicalRange(Frozen):
    """How an outcome score was judged against its clinical cut-off, as at scoring time (a later
    change of configuration or age band leaves it as judged)."""

    cutoff: float = Field(description="The cut-off between the clinical and functional range.")
    clinical: bool = Field(description="The score is in the clinical range.")
    age_group: AgeGroup | None = Field(
        None, description="The age band whose cut-off was used (ORS, CORS)."
    )
    norm_set: str | None = Field(None, description="The norm set whose cut-off was used (OQ-45.2).")


class ResponseScoredPayload(Frozen):
    source_event_id: uuid.UUID = Field(
        description="The response version scored: the response.submitted's event id, or the "
        "response.amended's whose answers it scores."
    )
    response_id: uuid.UUID | None = Field(
        None,
        description="The response this is a version of: its response.submitted's event id "
        "(source_event_id itself, unless the score is an amendment's). Absent on events scored "
        "before it was recorded: read `response` (source_event_id then).",
    )
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
    clinical_range: ClinicalRange | None = Field(
        None,
        description="The cut-off it was judged against (outcome instruments; none for "
        "instruments without one, and on events scored before it was recorded).",
    )

    @property
    def response(self) -> uuid.UUID:
        """The response scored. An event from before `response_id` was recorded falls back to
        the version scored: exact for a submission's score; an amendment's score then names the
        amendment (its original is in scoring's read model, which folds the responses again)."""
        return self.response_id or self.source_event_id


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


class SignalWithdrawnPayload(Frozen):
    signal_id: uuid.UUID = Field(description="The clinical.signal that no longer holds.")
    kind: SignalKind
    reason: WithdrawalReason
    because_of: uuid.UUID = Field(
        description="The input that made the case fold again (a late response, an amendment "
        "or a void)."
    )
    summary: str = Field(description="One line for a clinician, without personal data.")


class SignalWithdrawn(EventEnvelope):
    """A clinical signal that no longer holds once the case's history is folded again in
    clinical order (a late response, an amendment or a void). Whatever was derived from it is
    withdrawn or updated. Topic: scored. Id derived from the signal and the input."""

    event_type: Literal["signal.withdrawn"] = "signal.withdrawn"
    schema_version: Literal[1] = 1
    payload: SignalWithdrawnPayload


ScoringOutput = Annotated[
    ResponseScored | ClinicalSignal | SignalWithdrawn, Field(discriminator="event_type")
]
