"""Users' requests that arrive as events from the gateway (episode endings, case assignments,
corrections and voids of responses).
Intake applies them exactly as its HTTP endpoints apply the same writes: the same rules and the
same idempotency record, keyed by the request's event id, so a redelivered request is a
duplicate and an invalid one is refused (and dead-lettered with the rule it broke)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from alliance_contracts.events import (
    CaseAssignmentRequested,
    EpisodeEndingRequested,
    IntakeCommand,
    ResponseAmendmentRequested,
    ResponseVoidRequested,
)
from alliance_intake.application.corrections import ByEventId, correct_response
from alliance_intake.application.ports import IntakeUnitOfWork
from alliance_intake.application.submit import assign_case, record_episode_ending
from alliance_intake.domain.correction import AmendResponse, VoidResponse
from alliance_intake.domain.episode import EndEpisode
from alliance_intake.domain.roster import AssignCase

# Keys of the gateway's requests; intake's HTTP API refuses keys that start so.
GATEWAY_KEY_PREFIX = "gateway-"


def idempotency_key(command: IntakeCommand) -> str:
    return f"{GATEWAY_KEY_PREFIX}{command.event_id}"


async def apply_commands(
    uow: IntakeUnitOfWork, commands: Sequence[IntakeCommand], now: Callable[[], datetime]
) -> None:
    """Each command in a transaction of its own, as its HTTP twin."""
    for command in commands:
        if isinstance(command, EpisodeEndingRequested):
            ending = command.payload.model_dump(exclude={"requested_by"})
            submission = EndEpisode(
                clinic_id=command.clinic_id,
                case_id=command.case_id,
                idempotency_key=idempotency_key(command),
                **ending,
            )
            await record_episode_ending(uow, submission, now)
        elif isinstance(command, CaseAssignmentRequested):
            assignment = AssignCase(
                therapist_id=command.payload.therapist_id,
                transfer=command.payload.transfer,
                idempotency_key=idempotency_key(command),
            )
            await assign_case(uow, command.clinic_id, command.case_id, assignment, now)
        elif isinstance(command, ResponseAmendmentRequested):
            request = command.payload
            amendment = AmendResponse(answers=request.answers, reason=request.reason)
            await correct(uow, command, request.response_id, amendment, request.requested_by, now)
        elif isinstance(command, ResponseVoidRequested):
            request_void = command.payload
            void = VoidResponse(reason=request_void.reason)
            await correct(
                uow, command, request_void.response_id, void, request_void.requested_by, now
            )


async def correct(
    uow: IntakeUnitOfWork,
    command: IntakeCommand,
    response_id: uuid.UUID,
    change: AmendResponse | VoidResponse,
    by: str,
    now: Callable[[], datetime],
) -> None:
    response = ByEventId(command.clinic_id, command.case_id, response_id)
    await correct_response(uow, response, change, by, now, request_id=idempotency_key(command))
