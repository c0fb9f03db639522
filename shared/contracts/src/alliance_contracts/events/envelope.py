"""The envelope every event has, and deterministic ids for derived events."""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, BaseModel, ConfigDict

from alliance_contracts.ids import CaseId, ClinicId

# Namespace for deterministic ids of derived events (uuid5): a redelivered input yields the
# same derived event id, so every consumer downstream can de-duplicate.
DERIVED_EVENT_NAMESPACE = uuid.UUID("6f1e3c0a-5b8e-4d6e-9a51-3e0c2d7a9b10")


def derived_event_id(kind: str, *parts: object) -> uuid.UUID:
    return uuid.uuid5(DERIVED_EVENT_NAMESPACE, ":".join([kind, *map(str, parts)]))


class Frozen(BaseModel):
    # No infinities or NaN: they have no JSON form (and no clinical meaning).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class EventEnvelope(Frozen):
    """Fields every event has. `occurred_at` is when it happened in the clinic (event time);
    `recorded_at` is when the platform recorded it (processing time)."""

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    clinic_id: ClinicId
    case_id: CaseId
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime


CLINIC_LEVEL_CASE_ID = "clinic-level"  # the envelope's case id on clinic-wide events
