"""The read audit trail: who read which client-level data."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import strawberry


@strawberry.type(description="One read of client-level data (append-only trail).")
class AuditRecord:
    record_id: strawberry.ID
    at: datetime
    subject: strawberry.ID
    role: str
    case_ids: list[strawberry.ID]
    dyad_ids: list[strawberry.ID]
    operation: str | None
    address: str | None

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> AuditRecord:
        return cls(
            record_id=strawberry.ID(str(r["id"])),
            at=r["at"],
            subject=strawberry.ID(r["subject"]),
            role=r["role"],
            case_ids=[strawberry.ID(c) for c in r["case_ids"]],
            dyad_ids=[strawberry.ID(str(d)) for d in r["dyad_ids"]],
            operation=r["operation"],
            address=r["address"],
        )
