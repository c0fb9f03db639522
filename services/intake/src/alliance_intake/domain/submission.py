"""Pure rules for an incoming questionnaire response: validation and the event it becomes."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from alliance_contracts.events import EventEnvelope, ResponseSubmitted, ResponseSubmittedPayload
from alliance_contracts.ids import ClinicId, IdempotencyKey, PseudonymousId
from alliance_contracts.instruments import Violation, validate_response
from alliance_contracts.timing import in_future

# Clocks drift; a response stamped a little ahead of our clock is not an error.


class SubmitResponse(ResponseSubmittedPayload):
    """A questionnaire response to accept: its payload, where it belongs and its key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clinic_id: ClinicId
    case_id: PseudonymousId
    idempotency_key: IdempotencyKey = Field(
        description="Client-chosen key; a retry with it is a no-op."
    )


def check_submission(submission: SubmitResponse, now: datetime) -> list[Violation]:
    problems = validate_response(
        submission.instrument, submission.form, submission.respondent_role, submission.answers
    )
    if in_future(submission.administered_at, now):
        problems.append(Violation("administered_at", "must not be in the future"))
    return problems


def fingerprint(submission: BaseModel) -> str:
    """Identifies the content, so a reused idempotency key with other content is caught.
    Defaults are left out, so adding an optional field to the contract changes no fingerprint."""
    return hashlib.sha256(submission.model_dump_json(exclude_defaults=True).encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    event: EventEnvelope
    fingerprint: str


_PAYLOAD_FIELDS = tuple(ResponseSubmittedPayload.model_fields)


def to_event(
    submission: SubmitResponse, event_id: uuid.UUID, now: datetime, config_version: int = 0
) -> Accepted:
    # The submission is a payload already validated (a subclass with the same fields): its
    # values are taken as they are rather than dumped and validated again.
    payload = ResponseSubmittedPayload.model_construct(
        **{name: getattr(submission, name) for name in _PAYLOAD_FIELDS}
    )
    event = ResponseSubmitted(
        event_id=event_id,
        clinic_id=submission.clinic_id,
        case_id=submission.case_id,
        occurred_at=submission.administered_at,
        recorded_at=now,
        config_version=config_version,
        payload=payload,
    )
    return Accepted(event, fingerprint(submission))


class SubmissionReceipt(BaseModel):
    event_id: uuid.UUID
    duplicate: bool = Field(description="True when this idempotency key was already accepted.")


class IdempotencyConflict(Exception):
    """The idempotency key was used before for different content."""
