"""Users' requests through the gateway that intake owns and applies with its own rules. Topic:
intake-commands (key: case id)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from alliance_contracts.events.clinic import CaseAssignedPayload
from alliance_contracts.events.envelope import EventEnvelope
from alliance_contracts.events.responses import EpisodeEndedPayload
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


IntakeCommand = Annotated[
    EpisodeEndingRequested | CaseAssignmentRequested, Field(discriminator="event_type")
]
