"""Users' requests through the gateway that intake owns and applies with its own rules. Topic:
intake-commands (key: case id)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from alliance_contracts.events.clinic import CaseAssignedPayload
from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.events.responses import Answers, EpisodeEndedPayload, Reason
from alliance_contracts.ids import PseudonymousId


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


class ResponseAmendmentRequestedPayload(Frozen):
    response_id: uuid.UUID = Field(description="The event id of the response.submitted to correct.")
    answers: Answers = Field(
        description="The corrected answers, all of them (same rules as on submission).",
        json_schema_extra={
            "propertyNames": {"pattern": "^[1-9][0-9]{0,2}$", "maxLength": 3},
            "maxProperties": 200,
        },
    )
    reason: Reason
    requested_by: PseudonymousId


class ResponseAmendmentRequested(EventEnvelope):
    """A clinic admin asked, through the gateway, to correct a response's answers. Topic:
    intake-commands (key: case id). Intake applies it as `PUT .../responses/{key}` and publishes
    `response.amended`."""

    event_type: Literal["response.amendment.requested"] = "response.amendment.requested"
    schema_version: Literal[1] = 1
    payload: ResponseAmendmentRequestedPayload


class ResponseVoidRequestedPayload(Frozen):
    response_id: uuid.UUID = Field(description="The event id of the response.submitted to void.")
    reason: Reason
    requested_by: PseudonymousId


class ResponseVoidRequested(EventEnvelope):
    """A clinic admin asked, through the gateway, to void a response. Topic: intake-commands
    (key: case id). Intake applies it as `DELETE .../responses/{key}` and publishes
    `response.voided`."""

    event_type: Literal["response.void.requested"] = "response.void.requested"
    schema_version: Literal[1] = 1
    payload: ResponseVoidRequestedPayload


IntakeCommand = Annotated[
    EpisodeEndingRequested
    | CaseAssignmentRequested
    | ResponseAmendmentRequested
    | ResponseVoidRequested,
    Field(discriminator="event_type"),
]
