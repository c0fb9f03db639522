"""The read audit trail of a clinic."""

from __future__ import annotations

import strawberry

from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.pagination import check_page
from alliance_gateway.graphql.types.audit import AuditRecord


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="Who read which client-level data of the clinic, newest first (clinic "
        "admins only). Page with `before`: the last recordId of the previous page."
    )
    async def audit_trail(
        self,
        info: strawberry.Info[Request, None],
        clinic_id: strawberry.ID,
        first: int = 50,
        before: strawberry.ID | None = None,
    ) -> list[AuditRecord]:
        check_page(first)
        records = await reads.audit_trail(
            info.context, str(clinic_id), first, str(before) if before is not None else None
        )
        return [AuditRecord.from_record(r) for r in records]
