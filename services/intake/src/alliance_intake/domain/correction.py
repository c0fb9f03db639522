"""Pure rules for correcting an accepted response: amending its answers or voiding it. Each is
a new event referring to the original (nothing published is rewritten); intake keeps the
original and every correction, so a response's history is the audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from alliance_contracts.events import (
    Answers,
    Reason,
    ResponseAmended,
    ResponseAmendedPayload,
    ResponseSubmitted,
    ResponseVoided,
    ResponseVoidedPayload,
)
from alliance_contracts.instruments import RuleBroken, Violation, validate_response
from alliance_contracts.vocabulary import RespondentRole, ScoreStatus

Correction = ResponseAmended | ResponseVoided
_ONLY_ANSWERS = "an amendment corrects only the answers"
_WHAT = {"instrument": "form", "case_id": "case", "respondent_id": "respondent"}


class AmendResponse(BaseModel):
    """A correction of a response's answers: all of them, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    answers: Answers = Field(
        description="The corrected answers, all of them: the same item rules as on submission.",
        json_schema_extra={
            "propertyNames": {"pattern": "^[1-9][0-9]{0,2}$", "maxLength": 3},
            "maxProperties": 200,
        },
    )
    reason: Reason


class VoidResponse(BaseModel):
    """Withdrawing a response as wrong (e.g. keyed against the wrong client), and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: Reason


class UnknownResponse(RuleBroken):
    """No response.submitted with that key (or event id) in the clinic (and case)."""


class VoidedResponse(RuleBroken):
    """The response was voided: nothing more may change it."""


@dataclass(frozen=True)
class ResponseRecord:
    """A response as intake keeps it: the original and its corrections, oldest first."""

    idempotency_key: str
    original: ResponseSubmitted
    corrections: tuple[Correction, ...] = ()

    @property
    def status(self) -> ScoreStatus:
        if any(isinstance(c, ResponseVoided) for c in self.corrections):
            return ScoreStatus.VOIDED
        return ScoreStatus.AMENDED if self.corrections else ScoreStatus.CURRENT

    @property
    def answers(self) -> Answers | None:
        """The answers in force: the latest amendment's, the original's, none once voided."""
        if self.status is ScoreStatus.VOIDED:
            return None
        amendments = [c for c in self.corrections if isinstance(c, ResponseAmended)]
        return dict(amendments[-1].payload.answers if amendments else self.original.payload.answers)


def blank_reason(reason: str) -> list[Violation]:
    """A reason of only spaces says nothing: the audit trail needs one."""
    return [] if reason.strip() else [Violation("reason", "must not be empty")]


def check_amendment(record: ResponseRecord, amendment: AmendResponse) -> list[Violation]:
    """The corrected answers under exactly the rules of a submission of the same form."""
    original = record.original.payload
    return validate_response(
        original.instrument, original.form, original.respondent_role, amendment.answers
    )


@dataclass(frozen=True)
class AsSent:
    """What an amendment sent as a whole resource (FHIR) says of the response it corrects,
    each None when not sent: an amendment corrects the answers, so the rest must be the
    original's. The respondent is the client's case, the therapist or the parent's id."""

    instrument: str | None = None
    form: str | None = None
    case_id: str | None = None
    respondent_role: RespondentRole | None = None
    respondent_id: str | None = None


def check_same_response(record: ResponseRecord, sent: AsSent) -> list[Violation]:
    """The fields `sent` names that differ from the original response's, each named."""
    original = record.original
    p = original.payload
    respondent = {
        RespondentRole.CLIENT: original.case_id,
        RespondentRole.THERAPIST: p.therapist_id,
        RespondentRole.PARENT: p.respondent_id,
    }[p.respondent_role]
    differs = {
        "instrument": sent.instrument is not None
        and (sent.instrument, sent.form) != (p.instrument, p.form),
        "case_id": sent.case_id is not None and sent.case_id != original.case_id,
        "respondent_id": sent.respondent_role is not None
        and (sent.respondent_role, sent.respondent_id) != (p.respondent_role, respondent),
    }
    return [
        Violation(field, f"must be the original response's {_WHAT[field]}: {_ONLY_ANSWERS}")
        for field, different in differs.items()
        if different
    ]


def repeated(record: ResponseRecord, change: AmendResponse | VoidResponse) -> uuid.UUID | None:
    """The event id of the latest correction when `change` repeats it (a retry), else None."""
    if not record.corrections:
        return None
    latest = record.corrections[-1]
    if isinstance(change, AmendResponse) and isinstance(latest, ResponseAmended):
        same = latest.payload.answers == change.answers and latest.payload.reason == change.reason
        return latest.event_id if same else None
    if isinstance(change, VoidResponse) and isinstance(latest, ResponseVoided):
        return latest.event_id if latest.payload.reason == change.reason else None
    return None


def refuse_if_voided(record: ResponseRecord) -> None:
    if record.status is ScoreStatus.VOIDED:
        raise VoidedResponse("response: was voided; it can be neither amended nor voided again")


def correction_event(
    record: ResponseRecord,
    change: AmendResponse | VoidResponse,
    by: str,
    event_id: uuid.UUID,
    now: datetime,
) -> Correction:
    """The event for `change`, with the original's clinic and case (so it is ordered with the
    case's other inputs)."""
    original = record.original
    envelope: dict[str, object] = {
        "event_id": event_id,
        "clinic_id": original.clinic_id,
        "case_id": original.case_id,
        "occurred_at": now,
        "recorded_at": now,
    }
    if isinstance(change, AmendResponse):
        payload = ResponseAmendedPayload(
            amends=original.event_id, answers=change.answers, reason=change.reason, amended_by=by
        )
        return ResponseAmended.model_validate({**envelope, "payload": payload})
    voided = ResponseVoidedPayload(voids=original.event_id, reason=change.reason, voided_by=by)
    return ResponseVoided.model_validate({**envelope, "payload": voided})
