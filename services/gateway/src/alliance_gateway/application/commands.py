"""Command acceptance: commands become events. The gateway checks the arguments and that the
caller may act on the target, stores the command with its outbox row (idempotent by client
mutation id) and answers with the accepted command; the owning service applies it and the new
state follows."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from alliance_contracts.events import (
    AlertCommand,
    AlertCommandPayload,
    CaseAssignmentRequested,
    CaseAssignmentRequestedPayload,
    EpisodeEndingRequested,
    EpisodeEndingRequestedPayload,
    EventEnvelope,
    Reason,
    ResponseAmendmentRequested,
    ResponseAmendmentRequestedPayload,
    ResponseVoidRequested,
    ResponseVoidRequestedPayload,
)
from alliance_contracts.ids import PSEUDONYMOUS_ID_PATTERN, Note
from alliance_contracts.timing import Timestamp, in_future, utc_now
from alliance_contracts.topics import COMMANDS, INTAKE_COMMANDS, TopicSpec
from alliance_contracts.vocabulary import AlertCommandAction, EpisodeEnding
from alliance_gateway.adapters import queries
from alliance_gateway.adapters.writes import ClientMutationConflict, accept_command, command_id
from alliance_gateway.application.request import Request, UserError

_ID = re.compile(PSEUDONYMOUS_ID_PATTERN)
_NOTE: TypeAdapter[str | None] = TypeAdapter(Note | None)
_TIME: TypeAdapter[datetime] = TypeAdapter(Timestamp)
_REASON: TypeAdapter[str] = TypeAdapter(Reason)
T = TypeVar("T")


@dataclass(frozen=True)
class Accepted:
    """A command the owning service will apply."""

    command_id: uuid.UUID
    client_mutation_id: str
    duplicate: bool  # this client mutation id was seen before


def _check_id(field: str, value: str) -> str:
    if not _ID.match(value):
        raise UserError(f"{field}: must be a pseudonymous id (letters, digits, . _ : -)")
    return value


def _check(field: str, adapter: TypeAdapter[T], value: object) -> T:
    """The value, or a UserError naming the field and the rule (never the value)."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise UserError(f"{field}: {exc.errors()[0]['msg']}") from None


def _check_mutation_id(value: str) -> str:
    if not 8 <= len(value) <= 128:
        raise UserError("clientMutationId: must be 8 to 128 characters")
    return value


async def _submit(
    request: Request, client_mutation_id: str, event: EventEnvelope, topic: TopicSpec
) -> Accepted:
    # What the client asked for, not when: a retry of the same command is a duplicate.
    fingerprint = event.model_dump_json(exclude={"event_id", "recorded_at", "occurred_at"})
    try:
        duplicate = await accept_command(
            request.writer, request.caller, client_mutation_id, event, topic, fingerprint
        )
    except ClientMutationConflict as exc:
        raise UserError("clientMutationId: was already used for another command") from exc
    request.relay.wake()
    return Accepted(event.event_id, client_mutation_id, duplicate)


async def _alert_command(
    request: Request,
    alert_id: str,
    client_mutation_id: str,
    action: AlertCommandAction,
    **details: object,
) -> Accepted:
    _check_mutation_id(client_mutation_id)
    if "note" in details:
        details["note"] = _check("note", _NOTE, details["note"])
    caller = request.caller
    try:
        target = uuid.UUID(alert_id)
    except ValueError as exc:
        raise UserError("alertId: not an alert id") from exc
    async with request.snapshot() as session:
        alert = await queries.alert_by_id(session, caller, target)
    if alert is None or not caller.may_command(alert.clinic_id):
        raise UserError("alertId: no such alert, or not yours to act on")
    now = utc_now()
    event = AlertCommand(
        event_id=command_id(caller, client_mutation_id),
        clinic_id=alert.clinic_id,
        case_id=alert.case_id,
        occurred_at=now,
        recorded_at=now,
        payload=AlertCommandPayload(
            alert_id=target, action=action, actor_id=caller.subject, **details
        ),
    )
    return await _submit(request, client_mutation_id, event, COMMANDS)


async def acknowledge_alert(
    request: Request, alert_id: str, client_mutation_id: str, note: str | None
) -> Accepted:
    return await _alert_command(
        request, alert_id, client_mutation_id, AlertCommandAction.ACKNOWLEDGE, note=note
    )


async def resolve_alert(
    request: Request, alert_id: str, client_mutation_id: str, note: str | None
) -> Accepted:
    if not (note or "").strip():
        raise UserError("note: a resolution needs a note")
    return await _alert_command(
        request, alert_id, client_mutation_id, AlertCommandAction.RESOLVE, note=note
    )


async def snooze_alert(
    request: Request, alert_id: str, client_mutation_id: str, until: datetime, note: str | None
) -> Accepted:
    until = _check("until", _TIME, until)
    if until <= utc_now():
        raise UserError("until: must be a future time with a time zone")
    return await _alert_command(
        request,
        alert_id,
        client_mutation_id,
        AlertCommandAction.SNOOZE,
        note=note,
        snooze_until=until,
    )


async def reassign_alert(
    request: Request, alert_id: str, client_mutation_id: str, assignee_id: str, note: str | None
) -> Accepted:
    assignee = _check_id("assigneeId", assignee_id)
    return await _alert_command(
        request,
        alert_id,
        client_mutation_id,
        AlertCommandAction.REASSIGN,
        note=note,
        assignee_id=assignee,
    )


async def record_episode_ending(
    request: Request,
    clinic_id: str,
    case_id: str,
    therapist_id: str,
    ending: EpisodeEnding,
    ended_at: datetime,
    client_mutation_id: str,
    last_session_number: int | None,
) -> Accepted:
    _check_mutation_id(client_mutation_id)
    caller = request.caller
    clinic = _check_id("clinicId", clinic_id)
    case = _check_id("caseId", case_id)
    therapist = _check_id("therapistId", therapist_id)
    now = utc_now()
    ended_at = _check("endedAt", _TIME, ended_at)
    if in_future(ended_at, now):
        raise UserError("endedAt: must not be in the future, with a time zone")
    if last_session_number is not None and last_session_number < 1:
        raise UserError("lastSessionNumber: must be at least 1")
    async with request.snapshot() as session:
        visible = await queries.case_view(session, caller, clinic, case)
    if visible is None or not caller.may_command(clinic):
        raise UserError("caseId: no such case, or not yours to act on")
    # Intake owns episode endings: it applies this request with its own rules and
    # idempotency record, and publishes the ending.
    event = EpisodeEndingRequested(
        event_id=command_id(caller, client_mutation_id),
        clinic_id=clinic,
        case_id=case,
        occurred_at=ended_at,
        recorded_at=now,
        payload=EpisodeEndingRequestedPayload(
            therapist_id=therapist,
            ending=ending,
            ended_at=ended_at,
            last_session_number=last_session_number,
            requested_by=caller.subject,
        ),
    )
    return await _submit(request, client_mutation_id, event, INTAKE_COMMANDS)


async def assign_case(
    request: Request,
    clinic_id: str,
    case_id: str,
    therapist_id: str,
    client_mutation_id: str,
    transfer: bool,
) -> Accepted:
    _check_mutation_id(client_mutation_id)
    caller = request.caller
    clinic = _check_id("clinicId", clinic_id)
    case = _check_id("caseId", case_id)
    therapist = _check_id("therapistId", therapist_id)
    if not caller.may_assign(clinic):
        raise UserError("clinicId: assigning cases needs a supervisor or clinic admin of it")
    async with request.snapshot() as session:
        if await queries.case_view(session, caller, clinic, case) is None:
            raise UserError("caseId: no such case in this clinic")
    now = utc_now()
    event = CaseAssignmentRequested(
        event_id=command_id(caller, client_mutation_id),
        clinic_id=clinic,
        case_id=case,
        occurred_at=now,
        recorded_at=now,
        payload=CaseAssignmentRequestedPayload(
            therapist_id=therapist, transfer=transfer, requested_by=caller.subject
        ),
    )
    return await _submit(request, client_mutation_id, event, INTAKE_COMMANDS)


async def _correction(
    request: Request, clinic_id: str, case_id: str, response_id: str, client_mutation_id: str
) -> tuple[str, str, uuid.UUID]:
    """The checked target of a correction: clinic, case and the response's event id. Intake
    checks the response itself (that it is in this case, not voided) and the answers."""
    _check_mutation_id(client_mutation_id)
    caller = request.caller
    clinic = _check_id("clinicId", clinic_id)
    case = _check_id("caseId", case_id)
    try:
        response = uuid.UUID(response_id)
    except ValueError as exc:
        raise UserError("responseId: not a response id (a score's responseId)") from exc
    if not caller.may_correct_responses(clinic):
        raise UserError("clinicId: amending or voiding responses needs a clinic admin of it")
    async with request.snapshot() as session:
        if await queries.case_view(session, caller, clinic, case) is None:
            raise UserError("caseId: no such case in this clinic")
    return clinic, case, response


def _reason(reason: str) -> str:
    checked = _check("reason", _REASON, reason)
    if not checked.strip():
        raise UserError("reason: must not be empty")
    return checked


async def amend_response(
    request: Request,
    clinic_id: str,
    case_id: str,
    response_id: str,
    answers: dict[int, float | None],
    reason: str,
    client_mutation_id: str,
) -> Accepted:
    """Intake owns responses: it checks the corrected answers with the instrument's rules and
    publishes `response.amended`."""
    clinic, case, response = await _correction(
        request, clinic_id, case_id, response_id, client_mutation_id
    )
    now = utc_now()
    try:
        payload = ResponseAmendmentRequestedPayload(
            response_id=response,
            answers=answers,
            reason=_reason(reason),
            requested_by=request.caller.subject,
        )
    except ValidationError as exc:
        raise UserError(f"answers: {exc.errors()[0]['msg']}") from None
    event = ResponseAmendmentRequested(
        event_id=command_id(request.caller, client_mutation_id),
        clinic_id=clinic,
        case_id=case,
        occurred_at=now,
        recorded_at=now,
        payload=payload,
    )
    return await _submit(request, client_mutation_id, event, INTAKE_COMMANDS)


async def void_response(
    request: Request,
    clinic_id: str,
    case_id: str,
    response_id: str,
    reason: str,
    client_mutation_id: str,
) -> Accepted:
    clinic, case, response = await _correction(
        request, clinic_id, case_id, response_id, client_mutation_id
    )
    now = utc_now()
    event = ResponseVoidRequested(
        event_id=command_id(request.caller, client_mutation_id),
        clinic_id=clinic,
        case_id=case,
        occurred_at=now,
        recorded_at=now,
        payload=ResponseVoidRequestedPayload(
            response_id=response, reason=_reason(reason), requested_by=request.caller.subject
        ),
    )
    return await _submit(request, client_mutation_id, event, INTAKE_COMMANDS)
