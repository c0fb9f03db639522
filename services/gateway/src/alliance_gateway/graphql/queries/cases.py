"""One case, and the clinic and therapist whose pages of cases the caller may read."""

from __future__ import annotations

import strawberry

from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.selection import selects
from alliance_gateway.graphql.types.cases import Case
from alliance_gateway.graphql.types.clinics import Clinic, Therapist


@strawberry.type
class CaseQueries:
    @strawberry.field(description="A case of the clinic with its dyads, or null.")
    async def case(
        self, info: strawberry.Info[Request, None], clinic_id: strawberry.ID, case_id: strawberry.ID
    ) -> Case | None:
        found = await reads.case(
            info.context, str(clinic_id), str(case_id), selects(info, "timeline")
        )
        return Case.from_read(found) if found is not None else None

    @strawberry.field(description="A clinic you belong to (its cases need client-level access).")
    async def clinic(
        self, info: strawberry.Info[Request, None], clinic_id: strawberry.ID
    ) -> Clinic:
        reads.require_clinic(info.context, str(clinic_id))
        return Clinic(clinic_id=clinic_id)

    @strawberry.field(description="A therapist of a clinic, for their caseload.")
    async def therapist(
        self,
        info: strawberry.Info[Request, None],
        clinic_id: strawberry.ID,
        therapist_id: strawberry.ID,
    ) -> Therapist:
        reads.require_clients(info.context, str(clinic_id))
        return Therapist(clinic_id=clinic_id, therapist_id=therapist_id)
