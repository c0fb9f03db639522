"""Pure rules for the clinic staff roster and case assignments (alert routing)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from alliance_contracts.events import (
    CLINIC_LEVEL_CASE_ID,
    CaseAssigned,
    CaseAssignedPayload,
    StaffChanged,
    StaffChangedPayload,
)
from alliance_contracts.ids import IdempotencyKey, TherapistId
from alliance_contracts.vocabulary import StaffRole
from alliance_intake.domain.submission import Accepted, fingerprint


class ChangeStaff(BaseModel):
    """A staff member's role in the clinic (added, changed or made inactive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: StaffRole
    active: bool = True
    idempotency_key: IdempotencyKey


class AssignCase(BaseModel):
    """A case assigned (or transferred) to a therapist: its alerts go to them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    therapist_id: TherapistId
    transfer: bool = Field(False, description="True when the case moves from another therapist.")
    idempotency_key: IdempotencyKey


def staff_event(
    clinic_id: str, staff_id: str, change: ChangeStaff, event_id: uuid.UUID, now: datetime
) -> Accepted:
    event = StaffChanged(
        event_id=event_id,
        clinic_id=clinic_id,
        case_id=CLINIC_LEVEL_CASE_ID,
        occurred_at=now,
        recorded_at=now,
        payload=StaffChangedPayload(staff_id=staff_id, role=change.role, active=change.active),
    )
    return Accepted(event, fingerprint(change) + staff_id)


def assignment_event(
    clinic_id: str, case_id: str, assignment: AssignCase, event_id: uuid.UUID, now: datetime
) -> Accepted:
    event = CaseAssigned(
        event_id=event_id,
        clinic_id=clinic_id,
        case_id=case_id,
        occurred_at=now,
        recorded_at=now,
        payload=CaseAssignedPayload(
            therapist_id=assignment.therapist_id, transfer=assignment.transfer
        ),
    )
    return Accepted(event, fingerprint(assignment) + case_id)
