"""A clinic and a therapist (entry points to pages of cases), and a clinic's aggregates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from alliance_contracts.vocabulary import AlertKind, Phase
from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.pagination import CASES, check_page
from alliance_gateway.graphql.types.cases import CaseConnection

# Filters a page of cases in SQL, before the page is cut: every page holds only such cases.
OPEN_ALERT_KIND = Annotated[
    AlertKind | None,
    strawberry.argument(
        description="Only the cases with an active (open or acknowledged) alert of this kind."
    ),
]


@strawberry.type
class Count:
    key: str
    count: int


def _counts(pairs: list[tuple[str, int]]) -> list[Count]:
    return [Count(key=k, count=n) for k, n in pairs]


@strawberry.type(description="Aggregates of one clinic over a period: no client-level data.")
class ClinicSummary:
    clinic_id: strawberry.ID
    since: datetime
    until: datetime
    cases_by_phase: list[Count] = strawberry.field(
        description="Cases by their current phase (a snapshot, not limited to the period)."
    )
    ruptures_opened: int
    ruptures_repaired: int
    ruptures_unresolved: int
    repair_rate: float | None = strawberry.field(
        description="Repairs over ruptures opened in the period (null when none opened); repairs "
        "of ruptures opened before the period count too, so it can exceed 1."
    )
    termination_ready: int
    endings: list[Count] = strawberry.field(description="planned / unilateral (dropout).")
    srs_distribution: list[Count] = strawberry.field(
        description="Client-side dyads by decile of their latest SRS on the 0-1 scale (a "
        "snapshot, not limited to the period)."
    )

    @classmethod
    def of(cls, s: reads.ClinicSummary) -> ClinicSummary:
        return cls(
            clinic_id=strawberry.ID(s.clinic_id),
            since=s.since,
            until=s.until,
            cases_by_phase=_counts(s.cases_by_phase),
            ruptures_opened=s.ruptures_opened,
            ruptures_repaired=s.ruptures_repaired,
            ruptures_unresolved=s.ruptures_unresolved,
            repair_rate=s.repair_rate,
            termination_ready=s.termination_ready,
            endings=_counts(s.endings),
            srs_distribution=_counts(s.srs_distribution),
        )


@strawberry.type(description="The clinics the caller may see aggregates of.")
class Network:
    clinics: list[ClinicSummary]


@strawberry.type(description="A therapist of a clinic, with their caseload.")
class Therapist:
    clinic_id: strawberry.ID
    therapist_id: strawberry.ID

    @strawberry.field(description="The cases they rate or are assigned, in case-id order.")
    async def caseload(
        self,
        info: strawberry.Info[Request, None],
        first: int = 50,
        after: str | None = None,
        open_alert_kind: OPEN_ALERT_KIND = None,
    ) -> CaseConnection:
        reads.require_caseload(info.context, str(self.therapist_id))
        check_page(first)
        clinic, therapist = str(self.clinic_id), str(self.therapist_id)
        page = await reads.case_page(
            info.context, clinic, None, therapist, first, CASES.after(after), open_alert_kind
        )
        return CaseConnection.of_cases(page)


@strawberry.type(description="A clinic: its cases and its aggregates.")
class Clinic:
    clinic_id: strawberry.ID

    @strawberry.field(description="The clinic's cases you may see, in case-id order.")
    async def cases(
        self,
        info: strawberry.Info[Request, None],
        first: int = 50,
        after: str | None = None,
        phase: Phase | None = None,
        open_alert_kind: OPEN_ALERT_KIND = None,
    ) -> CaseConnection:
        check_page(first)
        page = await reads.case_page(
            info.context,
            str(self.clinic_id),
            phase,
            None,
            first,
            CASES.after(after),
            open_alert_kind,
        )
        return CaseConnection.of_cases(page)

    @strawberry.field(description="Aggregates over a period (default: the last 90 days).")
    async def summary(
        self,
        info: strawberry.Info[Request, None],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ClinicSummary:
        return ClinicSummary.of(
            await reads.clinic_summary(info.context, str(self.clinic_id), since, until)
        )
