"""A therapist's daily digest of alerts."""

from __future__ import annotations

from datetime import date

import strawberry

from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.types.alerts import Digest


@strawberry.type
class DigestQuery:
    @strawberry.field(description="A therapist's daily digest of alerts (UTC day).")
    async def digest(
        self,
        info: strawberry.Info[Request, None],
        clinic_id: strawberry.ID,
        therapist_id: strawberry.ID,
        day: date,
    ) -> Digest:
        found = await reads.digest(info.context, str(clinic_id), str(therapist_id), day)
        return Digest.of(therapist_id, day, found)
