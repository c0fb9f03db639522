"""A dyad (a therapist with one respondent within a case): its scores, trend and ruptures."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from alliance_contracts.events import ClinicalRange as ClinicalRangeJson
from alliance_contracts.readmodels import Dyad as DyadRow
from alliance_contracts.readmodels import DyadScore as DyadScoreRow
from alliance_contracts.readmodels import documents
from alliance_contracts.vocabulary import (
    AgeGroup,
    Phase,
    RespondentRole,
    RuptureStatus,
    ScoreStatus,
    Severity,
)
from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.types.evidence import RuleEvidence


@strawberry.type(description="A rupture: opened by rules, repaired on return to its level.")
class Rupture:
    rupture_id: strawberry.ID
    instrument: str
    opened_session: int
    opened_at: datetime
    severity: Severity
    target: float = strawberry.field(description="The pre-rupture level to return to.")
    status: RuptureStatus
    resolved_session: int | None
    evidence: list[RuleEvidence]

    @classmethod
    def of(cls, r: documents.Rupture) -> Rupture:
        return cls(
            rupture_id=strawberry.ID(str(r.rupture_id)),
            instrument=r.instrument,
            opened_session=r.opened_session,
            opened_at=r.opened_at,
            severity=r.severity,
            target=r.target,
            status=r.status,
            resolved_session=r.resolved_session,
            evidence=[RuleEvidence.of(e) for e in r.evidence],
        )


@strawberry.experimental.pydantic.type(
    model=documents.Trend,
    all_fields=True,
    description="Least-squares slope of the 0-1 alliance over recent sessions.",
)
class Trend:
    """Derived from the read-model shape: its fields are the contract's."""


@strawberry.type
class Subscale:
    name: str
    score: float


@strawberry.type(
    description="How an outcome score was judged against its clinical cut-off, as at scoring "
    "time: a later change of configuration or age band leaves it as judged."
)
class ClinicalRange:
    cutoff: float = strawberry.field(
        description="The cut-off between the clinical and the functional range."
    )
    clinical: bool = strawberry.field(description="The score is in the clinical range.")
    age_band: AgeGroup | None = strawberry.field(
        description="The age band whose cut-off was used (ORS, CORS)."
    )
    norm_set: str | None = strawberry.field(
        description="The norm set whose cut-off was used (OQ-45.2)."
    )

    @classmethod
    def of(cls, judged: ClinicalRangeJson) -> ClinicalRange:
        return cls(
            cutoff=judged.cutoff,
            clinical=judged.clinical,
            age_band=judged.age_group,
            norm_set=judged.norm_set,
        )


@strawberry.type(description="One scored questionnaire response.")
class Score:
    response_id: strawberry.ID = strawberry.field(
        description="The scored response's event id: what amendResponse and voidResponse take."
    )
    instrument: str
    form: str
    session_number: int
    administered_at: datetime
    total: float
    normalized: float = strawberry.field(description="Total on a 0-1 scale (share of range).")
    subscales: list[Subscale]
    scoring_key: str
    prorated: bool = strawberry.field(description="Some blank items were filled by proration.")
    prorated_items: list[int] = strawberry.field(
        description="The blank items filled from their subscale's mean."
    )
    critical_items: list[int] = strawberry.field(
        description="The critical items endorsed (answered above 'never'; OQ-45.2)."
    )
    clinical_range: ClinicalRange | None = strawberry.field(
        description="The cut-off it was judged against; null for instruments without one "
        "(alliance instruments such as WAI-SR, TASC-R)."
    )
    status: ScoreStatus = strawberry.field(
        description="CURRENT, or AMENDED or VOIDED once a correction replaced this version."
    )
    replaced_by: strawberry.ID | None = strawberry.field(
        description="The response id of the amended version that replaced this one (null "
        "unless AMENDED)."
    )

    @classmethod
    def from_row(cls, row: DyadScoreRow) -> Score:
        status = ScoreStatus(row.status)
        replaced = status is ScoreStatus.AMENDED and row.replaced_by is not None
        return cls(
            response_id=strawberry.ID(str(row.source_event_id)),
            instrument=row.instrument,
            form=row.form,
            session_number=row.session_number,
            administered_at=row.administered_at,
            total=row.total,
            normalized=row.normalized,
            subscales=[Subscale(name=k, score=v) for k, v in sorted(row.subscales.items())],
            scoring_key=row.scoring_key,
            prorated=bool(row.prorated_items),
            prorated_items=list(row.prorated_items),
            critical_items=list(row.critical_items),
            clinical_range=(ClinicalRange.of(row.clinical_range) if row.clinical_range else None),
            status=status,
            replaced_by=strawberry.ID(str(row.replaced_by)) if replaced else None,
        )


@strawberry.type(description="The latest score of one instrument in a dyad.")
class LatestScore:
    instrument: str
    session_number: int
    administered_at: datetime
    total: float
    normalized: float


@strawberry.type(description="A therapist with one respondent within a case.")
class Dyad:
    dyad_id: strawberry.ID
    therapist_id: strawberry.ID
    respondent_role: RespondentRole
    respondent_id: strawberry.ID | None
    responses: int
    latest: list[LatestScore]
    phase: Phase
    trend: Trend | None
    discrepancy: float | None = strawberry.field(
        description="This rating minus the therapist's own, on the 0-1 scale."
    )
    ruptures: list[Rupture]
    open_ruptures: int
    clinic_id: strawberry.Private[str]

    @strawberry.field(
        description="Scores in administration order, optionally one instrument. By default the "
        "corrected history (current versions only); includeReplaced adds the amended and voided "
        "versions, each before the version current in its place."
    )
    async def timeline(
        self,
        info: strawberry.Info[Request, None],
        instrument: str | None = None,
        include_replaced: bool = False,
    ) -> list[Score]:
        scores = await reads.timeline(
            info.context, uuid.UUID(self.dyad_id), instrument, include_replaced
        )
        return [Score.from_row(s) for s in scores]

    @classmethod
    def from_row(cls, row: DyadRow) -> Dyad:
        clinical = row.clinical
        return cls(
            dyad_id=strawberry.ID(str(row.dyad_id)),
            therapist_id=strawberry.ID(row.therapist_id),
            respondent_role=RespondentRole(row.respondent_role),
            respondent_id=strawberry.ID(row.respondent_id) if row.respondent_id else None,
            responses=row.responses,
            latest=[
                LatestScore(
                    instrument=instrument,
                    session_number=v.session_number,
                    administered_at=v.administered_at,
                    total=v.total,
                    normalized=v.normalized,
                )
                for instrument, v in sorted(row.latest.items())
            ],
            phase=clinical.phase,
            trend=Trend.from_pydantic(clinical.trend) if clinical.trend else None,
            discrepancy=clinical.discrepancy,
            ruptures=[Rupture.of(r) for r in clinical.ruptures],
            open_ruptures=clinical.open_ruptures,
            clinic_id=row.clinic_id,
        )
