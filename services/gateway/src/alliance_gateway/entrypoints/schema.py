"""GraphQL schema (Strawberry). Resolvers are thin: they call the read-model queries, which
apply the caller's scope (authentication: app.py; rules: alliance_contracts.access).

For now every query takes the clinic it reads and is scoped by it; authentication and
role-based scoping come with the gateway issue.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext

from alliance_contracts.access import NotAllowed
from alliance_contracts.readmodels import Alert as AlertRow
from alliance_contracts.readmodels import CaseView as CaseViewRow
from alliance_contracts.readmodels import Dyad as DyadRow
from alliance_contracts.readmodels import DyadScore as DyadScoreRow
from alliance_contracts.readmodels import Signal as SignalRow
from alliance_contracts.vocabulary import (
    AlertKind,
    AlertPriority,
    AlertStatus,
    OutcomeClass,
    Phase,
    RespondentRole,
    RuptureStatus,
    Severity,
    SignalKind,
)
from alliance_gateway.adapters import queries
from alliance_gateway.adapters.writes import audit_trail
from alliance_gateway.domain.cursor import AlertCursor, InvalidCursor
from alliance_gateway.entrypoints.context import Context, UserError
from alliance_gateway.entrypoints.extensions import (
    CostLimit,
    ReadAudit,
    TotalDepthLimit,
    mask_errors,
)
from alliance_gateway.entrypoints.mutations import Mutation

# The contracts' enums, served as GraphQL enums as they are (one definition, not two).
for _enum in (
    RespondentRole,
    AlertStatus,
    SignalKind,
    AlertKind,
    AlertPriority,
    Phase,
    Severity,
    RuptureStatus,
    OutcomeClass,
):
    strawberry.enum(_enum)

MAX_PAGE = 200


def check_page(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise UserError(f"first: must be between 1 and {MAX_PAGE}")


@strawberry.type(description="Which rule fired, with its inputs, threshold and source.")
class RuleEvidence:
    rule: str
    threshold: float
    citation: str
    inputs: JSON

    @classmethod
    def from_json(cls, e: dict[str, Any]) -> RuleEvidence:
        return cls(
            rule=e["rule"], threshold=e["threshold"], citation=e["citation"], inputs=e["inputs"]
        )


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
    def from_json(cls, r: dict[str, Any]) -> Rupture:
        return cls(
            rupture_id=strawberry.ID(r["rupture_id"]),
            instrument=r["instrument"],
            opened_session=r["opened_session"],
            opened_at=datetime.fromisoformat(r["opened_at"]),
            severity=Severity(r["severity"]),
            target=r["target"],
            status=RuptureStatus(r["status"]),
            resolved_session=r["resolved_session"],
            evidence=[RuleEvidence.from_json(e) for e in r["evidence"]],
        )


@strawberry.type(description="Least-squares slope of the 0-1 alliance over recent sessions.")
class Trend:
    instrument: str
    slope_per_session: float
    sessions: int
    declining: bool


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
    def from_json(cls, o: dict[str, Any]) -> Outcome:
        return cls(
            instrument=o["instrument"],
            respondent_role=RespondentRole(o["respondent_role"]),
            respondent_id=strawberry.ID(r) if (r := o.get("respondent_id")) else None,
            baseline_session=o["baseline"]["session_number"],
            baseline_total=o["baseline"]["total"],
            latest_session=o["latest"]["session_number"],
            latest_total=o["latest"]["total"],
            improvement=o["improvement"],
            outcome_class=OutcomeClass(o["outcome_class"]),
            recovered_streak=o["recovered_streak"],
            cutoff=o["cutoff"],
            reliable_change=o["reliable_change"],
            expected_improvement=o["expected_improvement"],
            on_track=o["on_track"],
            curve_band=o["curve_band"],
        )


@strawberry.type(description="Child versus parent alliance on the 0-1 scale.")
class Split:
    child_dyad_id: strawberry.ID
    parent_dyad_id: strawberry.ID
    gap: float = strawberry.field(description="Parent minus child.")
    active: bool
    reason: str | None


@strawberry.type(description="Decision support for planning termination, with its reasons.")
class Readiness:
    ready: bool
    reasons: list[str]


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
            evidence=[RuleEvidence.from_json(e) for e in row.evidence],
        )


@strawberry.type
class Episode:
    status: str
    ending: str | None = strawberry.field(description="planned or unilateral (dropout)")
    ended_at: datetime | None


@strawberry.type
class Subscale:
    name: str
    score: float


@strawberry.type(description="One scored questionnaire response.")
class Score:
    instrument: str
    form: str
    session_number: int
    administered_at: datetime
    total: float
    normalized: float = strawberry.field(description="Total on a 0-1 scale (share of range).")
    subscales: list[Subscale]
    scoring_key: str

    @classmethod
    def from_row(cls, row: DyadScoreRow) -> Score:
        return cls(
            instrument=row.instrument,
            form=row.form,
            session_number=row.session_number,
            administered_at=row.administered_at,
            total=row.total,
            normalized=row.normalized,
            subscales=[Subscale(name=k, score=v) for k, v in sorted(row.subscales.items())],
            scoring_key=row.scoring_key,
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

    @strawberry.field(description="Scores in administration order, optionally one instrument.")
    async def timeline(
        self, info: strawberry.Info[Context, None], instrument: str | None = None
    ) -> list[Score]:
        rows = await info.context.timeline_loader().load(uuid.UUID(self.dyad_id))
        return [Score.from_row(r) for r in rows if instrument in (None, r.instrument)]

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
                    session_number=v["session_number"],
                    administered_at=datetime.fromisoformat(v["administered_at"]),
                    total=v["total"],
                    normalized=v["normalized"],
                )
                for instrument, v in sorted(row.latest.items())
            ],
            phase=Phase(clinical.get("phase", "foundation")),
            trend=Trend(**trend) if (trend := clinical.get("trend")) else None,
            discrepancy=clinical.get("discrepancy"),
            ruptures=[Rupture.from_json(r) for r in clinical.get("ruptures", [])],
            open_ruptures=clinical.get("open_ruptures", 0),
            clinic_id=row.clinic_id,
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
    dyads: list[Dyad]

    @strawberry.field(description="Derived clinical events, newest first.")
    async def signals(
        self,
        info: strawberry.Info[Context, None],
        kinds: list[SignalKind] | None = None,
        first: int = 50,
    ) -> list[Signal]:
        check_page(first)
        async with info.context.sessions() as session:
            rows = await queries.case_signals(
                session,
                info.context.caller,
                str(self.clinic_id),
                str(self.case_id),
                [k.value for k in kinds] if kinds else None,
                first,
            )
        return [Signal.from_row(r) for r in rows]

    @classmethod
    def from_rows(cls, view: CaseViewRow, dyads: list[DyadRow]) -> Case:
        return cls(
            clinic_id=strawberry.ID(view.clinic_id),
            case_id=strawberry.ID(view.case_id),
            phase=Phase(view.phase),
            latest_session=view.latest_session,
            episode=Episode(
                status=view.episode["status"],
                ending=view.episode.get("ending"),
                ended_at=datetime.fromisoformat(e) if (e := view.episode.get("ended_at")) else None,
            ),
            outcomes=[Outcome.from_json(o) for o in view.outcomes],
            splits=[
                Split(
                    child_dyad_id=strawberry.ID(s["child_dyad_id"]),
                    parent_dyad_id=strawberry.ID(s["parent_dyad_id"]),
                    gap=s["gap"],
                    active=s["active"],
                    reason=s.get("reason"),
                )
                for s in view.splits
            ],
            readiness=Readiness(
                ready=view.readiness["ready"], reasons=list(view.readiness["reasons"])
            ),
            dyads=[Dyad.from_row(r) for r in dyads],
        )


@strawberry.type(description="One step of an alert's life.")
class AlertTransition:
    at: datetime
    action: str
    status: AlertStatus
    actor_id: strawberry.ID | None
    note: str | None


@strawberry.type(description="An alert with its lifecycle, recipient and the rule behind it.")
class Alert:
    alert_id: strawberry.ID
    kind: AlertKind
    status: AlertStatus
    priority: AlertPriority
    severity: Severity | None
    case_id: strawberry.ID
    subject: str
    dyad_id: strawberry.ID | None
    respondent_role: RespondentRole | None
    therapist_id: strawberry.ID | None = strawberry.field(description="The recipient.")
    escalated: bool = strawberry.field(description="Also sent to the clinic's supervisors.")
    escalate_at: datetime | None
    snoozed_until: datetime | None
    instrument: str | None
    session_number: int | None
    summary: str
    raised_at: datetime
    evidence: list[RuleEvidence]
    history: list[AlertTransition]

    @classmethod
    def from_row(cls, row: AlertRow) -> Alert:
        state = row.state
        return cls(
            alert_id=strawberry.ID(str(row.alert_id)),
            kind=AlertKind(row.kind),
            status=AlertStatus(row.status),
            priority=AlertPriority(row.priority),
            severity=Severity(row.severity) if row.severity else None,
            case_id=strawberry.ID(row.case_id),
            subject=row.subject,
            dyad_id=strawberry.ID(str(row.dyad_id)) if row.dyad_id else None,
            respondent_role=RespondentRole(row.respondent_role) if row.respondent_role else None,
            therapist_id=strawberry.ID(row.therapist_id) if row.therapist_id else None,
            escalated=row.escalated,
            escalate_at=row.escalate_at,
            snoozed_until=row.snoozed_until,
            instrument=row.instrument,
            session_number=row.session_number,
            summary=row.summary,
            raised_at=row.raised_at,
            evidence=[RuleEvidence.from_json(e) for e in row.evidence],
            history=[
                AlertTransition(
                    at=datetime.fromisoformat(t["at"]),
                    action=t["action"],
                    status=AlertStatus(t["status"]),
                    actor_id=strawberry.ID(t["actor_id"]) if t.get("actor_id") else None,
                    note=t.get("note"),
                )
                for t in state.get("history", [])
            ],
        )


@strawberry.type
class KindCount:
    kind: AlertKind
    count: int


@strawberry.type(description="A therapist's daily digest: what was raised that day, what is open.")
class Digest:
    therapist_id: strawberry.ID
    day: date
    raised: list[Alert]
    active: list[Alert] = strawberry.field(description="Open or acknowledged, most urgent first.")
    raised_by_kind: list[KindCount]


@strawberry.type
class AlertEdge:
    cursor: str
    node: Alert


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of alerts, newest first (keyset pagination).")
class AlertConnection:
    edges: list[AlertEdge]
    page_info: PageInfo


async def _digest(
    info: strawberry.Info[Context, None],
    clinic_id: strawberry.ID,
    therapist_id: strawberry.ID,
    day: date,
) -> Digest:
    caller = info.context.caller
    caller.require(caller.may_read_clients(str(clinic_id)))
    caller.require(not caller.caseload_only or str(therapist_id) == caller.subject)
    since = datetime.combine(day, time.min, tzinfo=UTC)
    async with info.context.sessions() as session:
        raised, active = await queries.therapist_alerts(
            session, caller, str(clinic_id), str(therapist_id), since, since + timedelta(days=1)
        )
    for row in (*raised, *active):
        info.context.reads.read(row.clinic_id, row.case_id)
    counts: dict[str, int] = {}
    for row in raised:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    return Digest(
        therapist_id=therapist_id,
        day=day,
        raised=[Alert.from_row(r) for r in raised],
        active=[Alert.from_row(r) for r in active],
        raised_by_kind=[KindCount(kind=AlertKind(k), count=n) for k, n in sorted(counts.items())],
    )


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


async def _audit_trail(
    info: strawberry.Info[Context, None],
    clinic_id: strawberry.ID,
    first: int = 50,
    before: strawberry.ID | None = None,
) -> list[AuditRecord]:
    check_page(first)
    caller = info.context.caller
    caller.require(caller.may_read_audit(str(clinic_id)))
    try:
        before_id = int(before) if before is not None else None
    except ValueError as exc:
        raise UserError("before: not a record id") from exc
    if before_id is not None and not 0 < before_id < 2**63:
        raise UserError("before: not a record id")
    rows = await audit_trail(info.context.writer, str(clinic_id), first, before_id)
    return [
        AuditRecord(
            record_id=strawberry.ID(str(r["id"])),
            at=r["at"],
            subject=strawberry.ID(r["subject"]),
            role=r["role"],
            case_ids=[strawberry.ID(c) for c in r["case_ids"]],
            dyad_ids=[strawberry.ID(str(d)) for d in r["dyad_ids"]],
            operation=r["operation"],
            address=r["address"],
        )
        for r in rows
    ]


@strawberry.type
class Count:
    key: str
    count: int


def _counts(values: dict[str, int]) -> list[Count]:
    return [Count(key=str(k), count=n) for k, n in sorted(values.items()) if k is not None]


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


@strawberry.type(description="The clinics the caller may see aggregates of.")
class Network:
    clinics: list[ClinicSummary]


async def summary_of(
    info: strawberry.Info[Context, None], clinic_id: str, since: datetime, until: datetime
) -> ClinicSummary:
    async with info.context.sessions() as session:
        data = await queries.clinic_summary(session, clinic_id, since, until)
    signals = data["signals"]
    opened = signals.get("rupture_opened", 0)
    repaired = signals.get("rupture_repaired", 0)
    return ClinicSummary(
        clinic_id=strawberry.ID(clinic_id),
        since=since,
        until=until,
        cases_by_phase=_counts(data["phases"]),
        ruptures_opened=opened,
        ruptures_repaired=repaired,
        ruptures_unresolved=signals.get("rupture_escalated", 0),
        repair_rate=round(repaired / opened, 3) if opened else None,
        termination_ready=signals.get("termination_ready", 0),
        endings=_counts(data["endings"]),
        srs_distribution=[
            Count(key=f"{d / 10:.1f}-{(d + 1) / 10:.1f}", count=n)
            for d, n in sorted(data["srs_deciles"].items())
        ],
    )


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=90)
    if since.tzinfo is None or until.tzinfo is None or since >= until:
        raise UserError("since, until: time-zoned, with since before until")
    return since, until


async def _clinic_summary(
    info: strawberry.Info[Context, None],
    clinic_id: strawberry.ID,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ClinicSummary:
    info.context.caller.require(info.context.caller.may_read_aggregates(str(clinic_id)))
    return await summary_of(info, str(clinic_id), *_period(since, until))


async def _network(
    info: strawberry.Info[Context, None],
    since: datetime | None = None,
    until: datetime | None = None,
) -> Network:
    caller = info.context.caller
    async with info.context.sessions() as session:
        clinics = [c for c in await queries.known_clinics(session) if caller.may_read_aggregates(c)]
    period = _period(since, until)
    return Network(clinics=[await summary_of(info, c, *period) for c in clinics])


@strawberry.type
class CaseEdge:
    cursor: str
    node: Case


@strawberry.type(description="A page of cases in case-id order (keyset pagination).")
class CaseConnection:
    edges: list[CaseEdge]
    page_info: PageInfo


async def case_page(
    info: strawberry.Info[Context, None],
    clinic_id: str,
    phase: Phase | None,
    therapist_id: str | None,
    first: int,
    after: str | None,
) -> CaseConnection:
    check_page(first)
    caller = info.context.caller
    caller.require(caller.may_read_clients(clinic_id))
    async with info.context.sessions() as session:
        views, has_next = await queries.clinic_cases(
            session, caller, clinic_id, phase.value if phase else None, therapist_id, first, after
        )
    # One query for the dyads of the whole page (DataLoader), not one per case.
    dyads = await info.context.dyads_loader().load_many([(v.clinic_id, v.case_id) for v in views])
    edges = []
    for view, rows in zip(views, dyads, strict=True):
        info.context.reads.read(view.clinic_id, view.case_id, [r.dyad_id for r in rows])
        edges.append(CaseEdge(cursor=view.case_id, node=Case.from_rows(view, rows)))
    end = edges[-1].cursor if edges else None
    return CaseConnection(edges=edges, page_info=PageInfo(has_next_page=has_next, end_cursor=end))


@strawberry.type(description="A therapist of a clinic, with their caseload.")
class Therapist:
    clinic_id: strawberry.ID
    therapist_id: strawberry.ID

    @strawberry.field(description="The cases they rate or are assigned, in case-id order.")
    async def caseload(
        self, info: strawberry.Info[Context, None], first: int = 50, after: str | None = None
    ) -> CaseConnection:
        caller = info.context.caller
        caller.require(not caller.caseload_only or str(self.therapist_id) == caller.subject)
        return await case_page(
            info, str(self.clinic_id), None, str(self.therapist_id), first, after
        )


@strawberry.type(description="A clinic: its cases and its aggregates.")
class Clinic:
    clinic_id: strawberry.ID

    @strawberry.field(description="The clinic's cases you may see, in case-id order.")
    async def cases(
        self,
        info: strawberry.Info[Context, None],
        first: int = 50,
        after: str | None = None,
        phase: Phase | None = None,
    ) -> CaseConnection:
        return await case_page(info, str(self.clinic_id), phase, None, first, after)

    @strawberry.field(description="Aggregates over a period (default: the last 90 days).")
    async def summary(
        self,
        info: strawberry.Info[Context, None],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ClinicSummary:
        return await _clinic_summary(info, self.clinic_id, since, until)


@strawberry.type
class Query:
    @strawberry.field(description="A case of the clinic with its dyads, or null.")
    async def case(
        self, info: strawberry.Info[Context, None], clinic_id: strawberry.ID, case_id: strawberry.ID
    ) -> Case | None:
        caller = info.context.caller
        if not caller.may_read_clients(str(clinic_id)):
            return None  # as if it did not exist: other clinics' data does not leak
        async with info.context.sessions() as session:
            view = await queries.case_view(session, caller, str(clinic_id), str(case_id))
            if view is None:
                return None
            rows = await queries.case_dyads(session, caller, str(clinic_id), str(case_id))
        info.context.reads.read(view.clinic_id, view.case_id, [r.dyad_id for r in rows])
        return Case.from_rows(view, rows)

    @strawberry.field(description="A clinic you belong to (its cases need client-level access).")
    async def clinic(
        self, info: strawberry.Info[Context, None], clinic_id: strawberry.ID
    ) -> Clinic:
        caller = info.context.caller
        caller.require(
            caller.may_read_clients(str(clinic_id)) or caller.may_read_aggregates(str(clinic_id))
        )
        return Clinic(clinic_id=clinic_id)

    @strawberry.field(description="A therapist of a clinic, for their caseload.")
    async def therapist(
        self,
        info: strawberry.Info[Context, None],
        clinic_id: strawberry.ID,
        therapist_id: strawberry.ID,
    ) -> Therapist:
        info.context.caller.require(info.context.caller.may_read_clients(str(clinic_id)))
        return Therapist(clinic_id=clinic_id, therapist_id=therapist_id)

    digest: Digest = strawberry.field(
        resolver=_digest, description="A therapist's daily digest of alerts (UTC day)."
    )
    clinic_summary: ClinicSummary = strawberry.field(
        resolver=_clinic_summary,
        description="Aggregates of a clinic over a period (default: the last 90 days).",
    )
    network: Network = strawberry.field(
        resolver=_network, description="Aggregates of every clinic the caller may see."
    )
    audit_trail: list[AuditRecord] = strawberry.field(
        resolver=_audit_trail,
        description="Who read which client-level data of the clinic, newest first (clinic "
        "admins only). Page with `before`: the last recordId of the previous page.",
    )

    @strawberry.field(description="The clinic's alerts, newest first.")
    async def alerts(
        self,
        info: strawberry.Info[Context, None],
        clinic_id: strawberry.ID,
        status: AlertStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AlertConnection:
        check_page(first)
        try:
            cursor = AlertCursor.decode(after) if after else None
        except InvalidCursor as exc:
            raise UserError(str(exc)) from exc
        caller = info.context.caller
        caller.require(caller.may_read_clients(str(clinic_id)))
        async with info.context.sessions() as session:
            rows, has_next = await queries.clinic_alerts(
                session, caller, str(clinic_id), status.value if status else None, first, cursor
            )
        for row in rows:
            info.context.reads.read(row.clinic_id, row.case_id)
        edges = [
            AlertEdge(cursor=AlertCursor(r.raised_at, r.alert_id).encode(), node=Alert.from_row(r))
            for r in rows
        ]
        end = edges[-1].cursor if edges else None
        return AlertConnection(
            edges=edges, page_info=PageInfo(has_next_page=has_next, end_cursor=end)
        )


@strawberry.type(description="An alert raised or changed (one per transition).")
class AlertNoticeEvent:
    notice_id: strawberry.ID
    alert_id: strawberry.ID
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    kind: AlertKind
    action: str
    status: AlertStatus
    priority: AlertPriority
    summary: str
    recipients: list[strawberry.ID]
    escalated: bool
    at: datetime


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Alerts raised or changed within the caller's scope, as they happen "
        "(graphql-transport-ws; send the token in connection_init: "
        '{"authorization": "Bearer <JWT>"}).'
    )
    async def alert_notices(
        self, info: strawberry.Info[Context, None], clinic_id: strawberry.ID | None = None
    ) -> AsyncGenerator[AlertNoticeEvent, None]:
        caller = info.context.caller
        if clinic_id is not None:
            caller.require(caller.may_read_clients(str(clinic_id)))
        async with info.context.hub.listen() as queue:
            while True:
                n = await queue.get()
                p = n.payload
                if not caller.may_read_clients(n.clinic_id):
                    continue
                if clinic_id is not None and n.clinic_id != str(clinic_id):
                    continue
                if caller.caseload_only and caller.subject not in p.recipients:
                    continue
                yield AlertNoticeEvent(
                    notice_id=strawberry.ID(str(n.event_id)),
                    alert_id=strawberry.ID(str(p.alert_id)),
                    clinic_id=strawberry.ID(n.clinic_id),
                    case_id=strawberry.ID(n.case_id),
                    kind=AlertKind(p.kind.value),
                    action=p.action.value,
                    status=AlertStatus(p.status.value),
                    priority=AlertPriority(p.priority.value),
                    summary=p.summary,
                    recipients=[strawberry.ID(r) for r in p.recipients],
                    escalated=p.escalated,
                    at=n.occurred_at,
                )


class AllianceSchema(strawberry.Schema):
    """Logs only unexpected errors: bad arguments and denials are the client's business."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [e for e in errors if not isinstance(e.original_error, UserError | NotAllowed)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(max_cost: int = 20_000) -> strawberry.Schema:
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=10),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: CostLimit(max_cost=max_cost, largest_page=MAX_PAGE),
        TotalDepthLimit,
        ParserCache,
        ReadAudit,
        mask_errors,
    ]
    return AllianceSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )


schema = build_schema()
