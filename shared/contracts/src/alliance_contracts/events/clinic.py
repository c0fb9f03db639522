"""Clinic-wide facts: configuration versions, the staff roster, case assignments. Topic: config
(key: clinic id)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.ids import PseudonymousId, TherapistId
from alliance_contracts.vocabulary import (
    StaffRole,
)


class ClinicConfiguredPayload(Frozen):
    version: int = Field(ge=1, description="Increments by one per clinic.")
    effective_from: AwareDatetime = Field(
        description="Responses administered from then on use this configuration."
    )
    configuration: dict[str, Any] = Field(
        description="The complete clinical configuration (ClinicalConfig), defaults included, "
        "so a replay does not depend on the defaults of the code that replays it."
    )
    overrides: dict[str, Any] = Field(description="What the clinic changed from the defaults.")


class ClinicConfigured(EventEnvelope):
    """A clinic's clinical configuration changed. Topic: config (key: clinic id)."""

    event_type: Literal["clinic.configured"] = "clinic.configured"
    schema_version: Literal[1] = 1
    payload: ClinicConfiguredPayload


class StaffChangedPayload(Frozen):
    staff_id: PseudonymousId
    role: StaffRole
    active: bool = True


class StaffChanged(EventEnvelope):
    """A clinic's staff roster changed. Topic: config (key: clinic id)."""

    event_type: Literal["staff.changed"] = "staff.changed"
    schema_version: Literal[1] = 1
    payload: StaffChangedPayload


class CaseAssignedPayload(Frozen):
    therapist_id: TherapistId
    transfer: bool = Field(False, description="True when the case moves from another therapist.")


class CaseAssigned(EventEnvelope):
    """The therapist responsible for a case (alerts are routed to them). Topic: config."""

    event_type: Literal["case.assigned"] = "case.assigned"
    schema_version: Literal[1] = 1
    payload: CaseAssignedPayload


ClinicInput = Annotated[
    ClinicConfigured | StaffChanged | CaseAssigned, Field(discriminator="event_type")
]
