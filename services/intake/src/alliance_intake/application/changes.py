"""Use case: several changes to a clinic's responses (submissions, amendments, voids) as one
transaction, all or nothing: a FHIR `transaction` Bundle (decision 0028). Each change goes
through the same rules as on its own door (`check_submission`, `correct_within`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from alliance_contracts.topics import RESPONSES
from alliance_intake.application.corrections import ByKey, ResponseReceipt, correct_within
from alliance_intake.application.ports import IntakeUnitOfWork
from alliance_intake.application.submit import Rejected, receipt
from alliance_intake.domain.correction import (
    AmendResponse,
    AsSent,
    UnknownResponse,
    VoidedResponse,
    VoidResponse,
)
from alliance_intake.domain.submission import (
    IdempotencyConflict,
    SubmitResponse,
    check_submission,
    to_event,
)
from alliance_platform.outbox import OutboxMessage


@dataclass(frozen=True)
class CorrectByKey:
    """An amendment or a void of the response the clinic submitted under `key`."""

    key: str
    change: AmendResponse | VoidResponse
    sent: AsSent | None = None  # what else the request says of the response: the original's


ResponseChange = SubmitResponse | CorrectByKey
Refusal = Rejected | UnknownResponse | VoidedResponse | IdempotencyConflict


class ChangeRefused(Exception):
    """The change at `index` broke a rule (`refusal`): nothing of the batch was recorded."""

    def __init__(self, index: int, refusal: Refusal) -> None:
        super().__init__(f"change {index}: {type(refusal).__name__}")
        self.index, self.refusal = index, refusal


async def change_responses(
    uow: IntakeUnitOfWork,
    clinic_id: str,
    changes: Sequence[ResponseChange],
    by: str,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> list[ResponseReceipt]:
    """Records every change of the clinic with its outbox row in one transaction, in order (a
    later change may correct an earlier one), or none: raises ChangeRefused naming the first
    that breaks a rule. For each, the response it is about and the receipt (duplicate: a
    repeat, recorded before). `by`: who corrects (token subject)."""
    recorded_at = now()
    done: list[ResponseReceipt] = []
    async with uow:
        # Under the clinic's configuration lock, its latest version is the one in force until
        # commit: each submission is stamped with it (as `record_alone` checks it alone).
        await uow.configurations.lock(clinic_id)
        version = (await uow.configurations.current(clinic_id)).version
        for index, change in enumerate(changes):
            try:
                if isinstance(change, CorrectByKey):
                    ref = ByKey(clinic_id, change.key)
                    done.append(
                        await correct_within(
                            uow, ref, change.change, by, recorded_at, new_id(), sent=change.sent
                        )
                    )
                    continue
                if violations := check_submission(change, recorded_at):
                    raise Rejected(violations)
                accepted = to_event(change, new_id(), recorded_at, version)
                key = change.idempotency_key
                found = await uow.submissions.record(
                    clinic_id, key, accepted, OutboxMessage(RESPONSES, accepted.event)
                )
                answer = receipt(key, accepted, found)
                done.append(ResponseReceipt(answer.event_id, answer))
            except (Rejected, UnknownResponse, VoidedResponse, IdempotencyConflict) as refused:
                raise ChangeRefused(index, refused) from refused
        await uow.commit()
    return done
