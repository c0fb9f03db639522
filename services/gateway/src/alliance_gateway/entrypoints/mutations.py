"""Mutations: commands that become events. The gateway checks the caller may act on the
target, stores the command with its outbox row (idempotent by client mutation id) and answers
with the accepted command; the owning service applies it and the new state follows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import TypeVar

import strawberry
from pydantic import TypeAdapter, ValidationError

from alliance_contracts.events import (
    AlertCommand,
    AlertCommandPayload,
    CaseAssignmentRequested,
    CaseAssignmentRequestedPayload,
    EpisodeEndingRequested,
    EpisodeEndingRequestedPayload,
    EventEnvelope,
)
from alliance_contracts.ids import PSEUDONYMOUS_ID_PATTERN, Note
from alliance_contracts.timing import Timestamp, in_future
from alliance_contracts.topics import COMMANDS, INTAKE_COMMANDS, TopicSpec
from alliance_contracts.vocabulary import AlertCommandAction, EpisodeEnding
from alliance_gateway.adapters import queries
from alliance_gateway.adapters.writes import ClientMutationConflict, accept_command, command_id
from alliance_gateway.entrypoints.context import Context, UserError

# Served as the GraphQL enum `Ending` (the name the SDL has always had).
strawberry.enum(EpisodeEnding, name="Ending")

_ID = re.compile(PSEUDONYMOUS_ID_PATTERN)
T = TypeVar("T")


@strawberry.type(description="A command the owning service will apply; its effect follows.")
class CommandAccepted:
    command_id: strawberry.ID
    client_mutation_id: str
    duplicate: bool = strawberry.field(description="This client mutation id was seen before.")


@strawberry.input
class AlertCommandInput:
    alert_id: strawberry.ID
    client_mutation_id: str
    note: str | None = None


@strawberry.input
class SnoozeAlertInput:
    alert_id: strawberry.ID
    client_mutation_id: str
    until: datetime
    note: str | None = None


@strawberry.input
class ReassignAlertInput:
    alert_id: strawberry.ID
    client_mutation_id: str
    assignee_id: strawberry.ID
    note: str | None = None


@strawberry.input
class EpisodeEndingInput:
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    therapist_id: strawberry.ID
    ending: EpisodeEnding
    ended_at: datetime
    client_mutation_id: str
    last_session_number: int | None = None


@strawberry.input
class AssignCaseInput:
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    therapist_id: strawberry.ID
    client_mutation_id: str
    transfer: bool = False


def _check_id(field: str, value: str) -> str:
    if not _ID.match(value):
        raise UserError(f"{field}: must be a pseudonymous id (letters, digits, . _ : -)")
    return value


_NOTE: TypeAdapter[str | None] = TypeAdapter(Note | None)
_TIME: TypeAdapter[datetime] = TypeAdapter(Timestamp)


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
    info: strawberry.Info[Context, None],
    client_mutation_id: str,
    event: EventEnvelope,
    topic: TopicSpec,
) -> CommandAccepted:
    ctx = info.context
    # What the client asked for, not when: a retry of the same command is a duplicate.
    fingerprint = event.model_dump_json(exclude={"event_id", "recorded_at", "occurred_at"})
    try:
        duplicate = await accept_command(
            ctx.writer, ctx.caller, client_mutation_id, event, topic, fingerprint
        )
    except ClientMutationConflict as exc:
        raise UserError("clientMutationId: was already used for another command") from exc
    ctx.relay.wake()
    return CommandAccepted(
        command_id=strawberry.ID(str(event.event_id)),
        client_mutation_id=client_mutation_id,
        duplicate=duplicate,
    )


async def _alert_command(
    info: strawberry.Info[Context, None],
    alert_id: str,
    client_mutation_id: str,
    action: AlertCommandAction,
    **details: object,
) -> CommandAccepted:
    _check_mutation_id(client_mutation_id)
    if "note" in details:
        details["note"] = _check("note", _NOTE, details["note"])
    caller = info.context.caller
    try:
        target = uuid.UUID(alert_id)
    except ValueError as exc:
        raise UserError("alertId: not an alert id") from exc
    async with info.context.sessions() as session:
        alert = await queries.alert_by_id(session, caller, target)
    if alert is None or not caller.may_command(alert.clinic_id):
        raise UserError("alertId: no such alert, or not yours to act on")
    now = datetime.now(UTC)
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
    return await _submit(info, client_mutation_id, event, COMMANDS)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Acknowledge an alert: you have seen it and act on it.")
    async def acknowledge_alert(
        self, info: strawberry.Info[Context, None], input: AlertCommandInput
    ) -> CommandAccepted:
        return await _alert_command(
            info,
            str(input.alert_id),
            input.client_mutation_id,
            AlertCommandAction.ACKNOWLEDGE,
            note=input.note,
        )

    @strawberry.mutation(description="Resolve an alert, with a note saying how.")
    async def resolve_alert(
        self, info: strawberry.Info[Context, None], input: AlertCommandInput
    ) -> CommandAccepted:
        if not (input.note or "").strip():
            raise UserError("note: a resolution needs a note")
        return await _alert_command(
            info,
            str(input.alert_id),
            input.client_mutation_id,
            AlertCommandAction.RESOLVE,
            note=input.note,
        )

    @strawberry.mutation(description="Snooze an alert until a time (its escalation waits).")
    async def snooze_alert(
        self, info: strawberry.Info[Context, None], input: SnoozeAlertInput
    ) -> CommandAccepted:
        until = _check("until", _TIME, input.until)
        if until <= datetime.now(UTC):
            raise UserError("until: must be a future time with a time zone")
        return await _alert_command(
            info,
            str(input.alert_id),
            input.client_mutation_id,
            AlertCommandAction.SNOOZE,
            note=input.note,
            snooze_until=until,
        )

    @strawberry.mutation(description="Reassign an alert to another therapist.")
    async def reassign_alert(
        self, info: strawberry.Info[Context, None], input: ReassignAlertInput
    ) -> CommandAccepted:
        assignee = _check_id("assigneeId", str(input.assignee_id))
        return await _alert_command(
            info,
            str(input.alert_id),
            input.client_mutation_id,
            AlertCommandAction.REASSIGN,
            note=input.note,
            assignee_id=assignee,
        )

    @strawberry.mutation(description="Record the end of an episode: planned or unilateral.")
    async def record_episode_ending(
        self, info: strawberry.Info[Context, None], input: EpisodeEndingInput
    ) -> CommandAccepted:
        _check_mutation_id(input.client_mutation_id)
        caller = info.context.caller
        clinic = _check_id("clinicId", str(input.clinic_id))
        case = _check_id("caseId", str(input.case_id))
        therapist = _check_id("therapistId", str(input.therapist_id))
        now = datetime.now(UTC)
        ended_at = _check("endedAt", _TIME, input.ended_at)
        if in_future(ended_at, now):
            raise UserError("endedAt: must not be in the future, with a time zone")
        if input.last_session_number is not None and input.last_session_number < 1:
            raise UserError("lastSessionNumber: must be at least 1")
        async with info.context.sessions() as session:
            visible = await queries.case_view(session, caller, clinic, case)
        if visible is None or not caller.may_command(clinic):
            raise UserError("caseId: no such case, or not yours to act on")
        # Intake owns episode endings: it applies this request with its own rules and
        # idempotency record, and publishes the ending.
        event = EpisodeEndingRequested(
            event_id=command_id(caller, input.client_mutation_id),
            clinic_id=clinic,
            case_id=case,
            occurred_at=ended_at,
            recorded_at=now,
            payload=EpisodeEndingRequestedPayload(
                therapist_id=therapist,
                ending=input.ending,
                ended_at=ended_at,
                last_session_number=input.last_session_number,
                requested_by=caller.subject,
            ),
        )
        return await _submit(info, input.client_mutation_id, event, INTAKE_COMMANDS)

    @strawberry.mutation(description="Assign or transfer a case to a therapist.")
    async def assign_case(
        self, info: strawberry.Info[Context, None], input: AssignCaseInput
    ) -> CommandAccepted:
        _check_mutation_id(input.client_mutation_id)
        caller = info.context.caller
        clinic = _check_id("clinicId", str(input.clinic_id))
        case = _check_id("caseId", str(input.case_id))
        therapist = _check_id("therapistId", str(input.therapist_id))
        if not caller.may_assign(clinic):
            raise UserError("clinicId: assigning cases needs a supervisor or clinic admin of it")
        async with info.context.sessions() as session:
            if await queries.case_view(session, caller, clinic, case) is None:
                raise UserError("caseId: no such case in this clinic")
        now = datetime.now(UTC)
        event = CaseAssignmentRequested(
            event_id=command_id(caller, input.client_mutation_id),
            clinic_id=clinic,
            case_id=case,
            occurred_at=now,
            recorded_at=now,
            payload=CaseAssignmentRequestedPayload(
                therapist_id=therapist, transfer=input.transfer, requested_by=caller.subject
            ),
        )
        return await _submit(info, input.client_mutation_id, event, INTAKE_COMMANDS)
