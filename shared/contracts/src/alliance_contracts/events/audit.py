"""Reads of client-level data, for the audit trail. Topic: audit (key: clinic id)."""

from __future__ import annotations

import uuid
from typing import Literal

from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.ids import CaseId, PseudonymousId


class ReadAuditedPayload(Frozen):
    subject: PseudonymousId
    role: str
    operation: str | None
    address: str | None
    case_ids: list[CaseId]
    dyad_ids: list[uuid.UUID]


class ReadAudited(EventEnvelope):
    """Client-level data of one clinic was read through the gateway. Topic: audit (key: clinic
    id). `case_id` is the clinic-level marker; the cases read are in the payload."""

    event_type: Literal["read.audited"] = "read.audited"
    schema_version: Literal[1] = 1
    payload: ReadAuditedPayload
