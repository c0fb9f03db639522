"""Use cases: amend or void an accepted response, and read its history. A correction is one
transaction under the original's lock: the correction, its outbox row (on the responses topic,
so it follows the original in the case's order); a retry of the latest correction is a no-op."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from alliance_contracts.topics import RESPONSES
from alliance_intake.application.ports import IntakeUnitOfWork
from alliance_intake.application.submit import Rejected
from alliance_intake.domain.correction import (
    AmendResponse,
    AsSent,
    ResponseRecord,
    UnknownResponse,
    VoidResponse,
    blank_reason,
    check_amendment,
    check_same_response,
    correction_event,
    refuse_if_voided,
    repeated,
)
from alliance_intake.domain.submission import SubmissionReceipt
from alliance_platform.outbox import OutboxMessage


@dataclass(frozen=True)
class ByKey:
    """A response named as clinic systems know it: the key they submitted it with."""

    clinic_id: str
    key: str


@dataclass(frozen=True)
class ByEventId:
    """A response named as GraphQL shows it: its event id, in its clinic and case."""

    clinic_id: str
    case_id: str
    event_id: uuid.UUID


ResponseRef = ByKey | ByEventId


async def find(uow: IntakeUnitOfWork, ref: ResponseRef, *, lock: bool) -> ResponseRecord:
    if isinstance(ref, ByKey):
        record = await uow.responses.by_key(ref.clinic_id, ref.key, lock=lock)
        if record is None:
            raise UnknownResponse("idempotency_key: no response with this key in the clinic")
        return record
    found = await uow.responses.by_event_id(ref.clinic_id, ref.event_id, lock=lock)
    if found is None or found.original.case_id != ref.case_id:
        raise UnknownResponse("response_id: no such response in this clinic and case")
    return found


async def correct_response(
    uow: IntakeUnitOfWork,
    ref: ResponseRef,
    change: AmendResponse | VoidResponse,
    by: str,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    request_id: str | None = None,
) -> SubmissionReceipt:
    """Publishes `response.amended` or `response.voided` for the response `ref` names.
    Raises UnknownResponse (no such response), VoidedResponse (it was voided) or Rejected (an
    empty reason, answers that break the instrument's rules). `request_id`: the gateway request
    it applies, so a redelivered request is a duplicate."""
    recorded_at = now()
    async with uow:
        if request_id is not None and (done := await uow.responses.requested(request_id)):
            return SubmissionReceipt(event_id=done, duplicate=True)
        corrected = await correct_within(uow, ref, change, by, recorded_at, new_id(), request_id)
        await uow.commit()
    return corrected.receipt


@dataclass(frozen=True)
class ResponseReceipt:
    """What a change recorded (`receipt`), and the response it is about: the original
    response.submitted's event id (a submission's own)."""

    response_id: uuid.UUID
    receipt: SubmissionReceipt


async def correct_within(
    uow: IntakeUnitOfWork,
    ref: ResponseRef,
    change: AmendResponse | VoidResponse,
    by: str,
    recorded_at: datetime,
    event_id: uuid.UUID,
    request_id: str | None = None,
    sent: AsSent | None = None,
) -> ResponseReceipt:
    """`correct_response` in the caller's transaction (it commits): records the correction and
    its outbox row unless it repeats the latest one. `sent`: what the request says of the
    response besides the correction (a FHIR resource is sent whole): it must be the original's."""
    if violations := blank_reason(change.reason):
        raise Rejected(violations)
    record = await find(uow, ref, lock=True)
    if sent is not None and (violations := check_same_response(record, sent)):
        raise Rejected(violations)
    response_id = record.original.event_id
    if (same := repeated(record, change)) is not None:
        return ResponseReceipt(response_id, SubmissionReceipt(event_id=same, duplicate=True))
    refuse_if_voided(record)
    if isinstance(change, AmendResponse) and (violations := check_amendment(record, change)):
        raise Rejected(violations)
    event = correction_event(record, change, by, event_id, recorded_at)
    await uow.responses.add_correction(event, request_id)
    await uow.outbox.add([OutboxMessage(RESPONSES, event)])
    return ResponseReceipt(response_id, SubmissionReceipt(event_id=event.event_id, duplicate=False))


async def response_history(uow: IntakeUnitOfWork, ref: ResponseRef) -> ResponseRecord:
    async with uow:
        return await find(uow, ref, lock=False)
