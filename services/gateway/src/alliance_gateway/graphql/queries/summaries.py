"""Aggregates: of one clinic, and of every clinic the caller may see."""

from __future__ import annotations

from datetime import datetime

import strawberry

from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.types.clinics import ClinicSummary, Network


@strawberry.type
class SummaryQueries:
    @strawberry.field(
        description="Aggregates of a clinic over a period (default: the last 90 days)."
    )
    async def clinic_summary(
        self,
        info: strawberry.Info[Request, None],
        clinic_id: strawberry.ID,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ClinicSummary:
        return ClinicSummary.of(
            await reads.clinic_summary(info.context, str(clinic_id), since, until)
        )

    @strawberry.field(description="Aggregates of every clinic the caller may see.")
    async def network(
        self,
        info: strawberry.Info[Request, None],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Network:
        summaries = await reads.network(info.context, since, until)
        return Network(clinics=[ClinicSummary.of(s) for s in summaries])
