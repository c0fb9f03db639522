"""Pure rules for recording the end of a treatment episode."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict

from alliance_contracts.events import EpisodeEnded, EpisodeEndedPayload
from alliance_contracts.ids import ClinicId, IdempotencyKey, PseudonymousId
from alliance_contracts.instruments import Violation
from alliance_contracts.timing import in_future
from alliance_intake.domain.submission import Accepted, fingerprint


class EndEpisode(EpisodeEndedPayload):
    """The end of a treatment episode to record, from a clinic system or a user's request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clinic_id: ClinicId
    case_id: PseudonymousId
    idempotency_key: IdempotencyKey


def check_ending(submission: EndEpisode, now: datetime) -> list[Violation]:
    if in_future(submission.ended_at, now):
        return [Violation("ended_at", "must not be in the future")]
    return []


def ending_event(submission: EndEpisode, event_id: uuid.UUID, now: datetime) -> Accepted:
    payload = EpisodeEndedPayload.model_validate(
        submission.model_dump(exclude={"clinic_id", "case_id", "idempotency_key"})
    )
    event = EpisodeEnded(
        event_id=event_id,
        clinic_id=submission.clinic_id,
        case_id=submission.case_id,
        occurred_at=submission.ended_at,
        recorded_at=now,
        payload=payload,
    )
    return Accepted(event, fingerprint(submission))
