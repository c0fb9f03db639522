"""Reads of client-level data, for the audit trail. Topic: audit (key: clinic id)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.ids import CaseId, Code, PseudonymousId

# The gateway refuses longer operation names (and would truncate one, for the audit).
MAX_OPERATION_NAME = 128
# One operation's reads of a clinic fill as many events as these take.
MAX_AUDITED_IDS = 500


class ReadAuditedPayload(Frozen):
    subject: PseudonymousId
    role: Code
    operation: str | None = Field(max_length=MAX_OPERATION_NAME)
    address: str | None = Field(max_length=64, description="The client's IP address.")
    case_ids: list[CaseId] = Field(max_length=MAX_AUDITED_IDS)
    dyad_ids: list[uuid.UUID] = Field(max_length=MAX_AUDITED_IDS)


class ReadAudited(EventEnvelope):
    """Client-level data of one clinic was read through the gateway. Topic: audit (key: clinic
    id). `case_id` is the clinic-level marker; the cases read are in the payload."""

    event_type: Literal["read.audited"] = "read.audited"
    schema_version: Literal[1] = 1
    payload: ReadAuditedPayload
