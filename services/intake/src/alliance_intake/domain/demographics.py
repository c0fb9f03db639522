"""Pure rules for setting a case's demographics: its age band and OQ-45.2 norm set, from an
effective date on (scoring judges later administrations with them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from alliance_contracts.events import CaseDemographicsSet, CaseDemographicsSetPayload, OqNormSet
from alliance_contracts.ids import IdempotencyKey
from alliance_contracts.instruments import Violation
from alliance_contracts.timing import Timestamp, in_future
from alliance_contracts.vocabulary import AgeGroup
from alliance_intake.domain.submission import Accepted, fingerprint


class SetDemographics(BaseModel):
    """A case's age band and/or norm set from `effective_from` on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    age_group: AgeGroup | None = None
    oq_norm_set: OqNormSet | None = None
    effective_from: Timestamp = Field(
        description="From when it applies: responses administered earlier keep their judgement."
    )
    idempotency_key: IdempotencyKey


def check_demographics(change: SetDemographics, now: datetime) -> list[Violation]:
    violations = []
    if change.age_group is None and change.oq_norm_set is None:
        violations.append(Violation("age_group", "age_group or oq_norm_set is required"))
    if in_future(change.effective_from, now):
        violations.append(Violation("effective_from", "must not be in the future"))
    return violations


def demographics_event(
    clinic_id: str,
    case_id: str,
    change: SetDemographics,
    set_by: str,
    event_id: uuid.UUID,
    now: datetime,
) -> Accepted:
    event = CaseDemographicsSet(
        event_id=event_id,
        clinic_id=clinic_id,
        case_id=case_id,
        occurred_at=change.effective_from,
        recorded_at=now,
        payload=CaseDemographicsSetPayload(
            age_group=change.age_group,
            oq_norm_set=change.oq_norm_set,
            effective_from=change.effective_from,
            set_by=set_by,
        ),
    )
    return Accepted(event, fingerprint(change) + case_id)
