"""A client's case: its episode, outcomes, splits, readiness, demographics, dyads and clinical
signals."""

from __future__ import annotations

from datetime import datetime

import strawberry

from alliance_contracts.readmodels import Signal as SignalRow
from alliance_contracts.readmodels import documents
from alliance_contracts.vocabulary import (
    AgeGroup,
    OutcomeClass,
    Phase,
    RespondentRole,
    Severity,
    SignalKind,
)
from alliance_gateway.application import reads
from alliance_gateway.application.reads import CaseRead, Page
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.pagination import CASES, Connection, check_page
from alliance_gateway.graphql.types.alerts import Alert
from alliance_gateway.graphql.types.dyads import Dyad
from alliance_gateway.graphql.types.evidence import RuleEvidence


@strawberry.type(description="Outcome progress against the intake baseline (Jacobson-Truax).")
class Outcome:
    instrument: str
    respondent_role: RespondentRole
    respondent_id: strawberry.ID | None
    baseline_session: int
    baseline_total: float
    latest_session: int
    latest_total: float
    improvement: float = strawberry.field(description="Points, in the good direction.")
    outcome_class: OutcomeClass
    recovered_streak: int
    cutoff: float
    reliable_change: float
    expected_improvement: float | None
    on_track: bool | None
    curve_band: str | None

    @classmethod
    def of(cls, o: documents.Outcome) -> Outcome:
        return cls(
            instrument=o.instrument,
            respondent_role=o.respondent_role,
            respondent_id=strawberry.ID(o.respondent_id) if o.respondent_id else None,
            baseline_session=o.baseline.session_number,
            baseline_total=o.baseline.total,
            latest_session=o.latest.session_number,
            latest_total=o.latest.total,
            improvement=o.improvement,
            outcome_class=o.outcome_class,
            recovered_streak=o.recovered_streak,
            cutoff=o.cutoff,
            reliable_change=o.reliable_change,
            expected_improvement=o.expected_improvement,
            on_track=o.on_track,
            curve_band=o.curve_band,
        )


@strawberry.type(description="Child versus parent alliance on the 0-1 scale.")
class Split:
    child_dyad_id: strawberry.ID
    parent_dyad_id: strawberry.ID
    gap: float = strawberry.field(description="Parent minus child.")
    active: bool
    reason: str | None


@strawberry.experimental.pydantic.type(
    model=documents.Readiness,
    all_fields=True,
    description="Decision support for planning termination, with its reasons.",
)
class Readiness:
    """Derived from the read-model shape: its fields are the contract's."""


@strawberry.type(description="A derived clinical event with the rules and inputs behind it.")
class Signal:
    signal_id: strawberry.ID
    kind: SignalKind
    severity: Severity | None
    dyad_id: strawberry.ID | None
    instrument: str | None
    session_number: int | None
    summary: str
    occurred_at: datetime
    evidence: list[RuleEvidence]

    @classmethod
    def from_row(cls, row: SignalRow) -> Signal:
        return cls(
            signal_id=strawberry.ID(str(row.event_id)),
            kind=SignalKind(row.kind),
            severity=Severity(row.severity) if row.severity else None,
            dyad_id=strawberry.ID(str(row.dyad_id)) if row.dyad_id else None,
            instrument=row.instrument,
            session_number=row.session_number,
            summary=row.summary,
            occurred_at=row.occurred_at,
            evidence=[RuleEvidence.of(e) for e in row.evidence],
        )


@strawberry.type
class Episode:
    status: str
    ending: str | None = strawberry.field(description="planned or unilateral (dropout)")
    ended_at: datetime | None


@strawberry.type(
    description="The case's current age band and OQ-45.2 norm set, and from when. Each score "
    "records the ones it was judged with (`Score.clinicalRange`)."
)
class Demographics:
    age_group: AgeGroup | None = strawberry.field(
        description="None: not set (ORS is judged as adult, CORS as child)."
    )
    oq_norm_set: str | None = strawberry.field(
        description="The case's norm set; none: the clinic's (`oqNormSet` in its configuration)."
    )
    effective_from: datetime | None = strawberry.field(
        description="When the latest change applies."
    )

    @classmethod
    def of(cls, d: documents.Demographics) -> Demographics:
        return cls(
            age_group=d.age_group, oq_norm_set=d.oq_norm_set, effective_from=d.effective_from
        )


@strawberry.type(description="A client's case: its dyads (client, parents, therapist ratings).")
class Case:
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    phase: Phase
    latest_session: int
    episode: Episode
    outcomes: list[Outcome]
    splits: list[Split]
    readiness: Readiness
    demographics: Demographics
    dyads: list[Dyad]

    @strawberry.field(description="Derived clinical events, newest first.")
    async def signals(
        self,
        info: strawberry.Info[Request, None],
        kinds: list[SignalKind] | None = None,
        first: int = 50,
    ) -> list[Signal]:
        check_page(first)
        rows = await reads.case_signals(
            info.context, str(self.clinic_id), str(self.case_id), kinds, first
        )
        return [Signal.from_row(r) for r in rows]

    @strawberry.field(
        description="Its alerts that are not resolved (open or acknowledged, snoozed ones too), "
        "most urgent first: those the clinic's `alerts` query shows you of this case. One query "
        "for every case of a page."
    )
    async def active_alerts(self, info: strawberry.Info[Request, None]) -> list[Alert]:
        rows = await reads.active_alerts(info.context, str(self.clinic_id), str(self.case_id))
        return [Alert.from_row(r) for r in rows]

    @classmethod
    def from_read(cls, read: CaseRead) -> Case:
        view = read.view
        return cls(
            clinic_id=strawberry.ID(view.clinic_id),
            case_id=strawberry.ID(view.case_id),
            phase=Phase(view.phase),
            latest_session=view.latest_session,
            episode=Episode(
                status=view.episode.status.value,
                ending=view.episode.ending.value if view.episode.ending else None,
                ended_at=view.episode.ended_at,
            ),
            outcomes=[Outcome.of(o) for o in view.outcomes],
            splits=[
                Split(
                    child_dyad_id=strawberry.ID(str(s.child_dyad_id)),
                    parent_dyad_id=strawberry.ID(str(s.parent_dyad_id)),
                    gap=s.gap,
                    active=s.active,
                    reason=s.reason,
                )
                for s in view.splits
            ],
            readiness=Readiness.from_pydantic(view.readiness),
            demographics=Demographics.of(view.demographics),
            dyads=[Dyad.from_row(r) for r in read.dyads],
        )


@strawberry.type(description="A page of cases in case-id order (keyset pagination).")
class CaseConnection(Connection[Case]):
    @classmethod
    def of_cases(cls, page: Page[CaseRead]) -> CaseConnection:
        return cls.of(page, lambda read: CASES.cursor(read.view.case_id), Case.from_read)
