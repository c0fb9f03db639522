"""Read use cases: who may read what, and what each read means. Every read-model query adds
the caller's scope to its SQL (adapters/queries.py); here are the decisions above it (a denied
case is as if it did not exist, a clinician reads only their own caseload and digest), the
client-level reads recorded for the audit, and the figures derived from the rows (digest counts,
clinic aggregates)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar

import asyncpg

from alliance_contracts.events import AlertNotice
from alliance_contracts.readmodels import (
    Alert,
    AlertTransition,
    CaseView,
    Dyad,
    DyadScore,
    Signal,
)
from alliance_contracts.timing import utc_now
from alliance_contracts.vocabulary import AlertKind, AlertStatus, Phase, ScoreStatus, SignalKind
from alliance_gateway.adapters import hot_queries, queries, writes
from alliance_gateway.application.request import Request, UserError

T = TypeVar("T")

AlertKey = tuple[datetime, uuid.UUID]  # an alert's place in (raised_at desc, alert_id desc)
CaseKey = str  # a case's place in case-id order


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset-paginated listing, and whether another follows."""

    items: list[T]
    has_next: bool


@dataclass(frozen=True)
class CaseRead:
    view: CaseView
    dyads: list[Dyad]


@dataclass(frozen=True)
class Digest:
    raised: list[Alert]
    active: list[Alert]  # open or acknowledged, most urgent first
    raised_by_kind: list[tuple[AlertKind, int]]


async def case(
    request: Request, clinic_id: str, case_id: str, with_timelines: bool = False
) -> CaseRead | None:
    """A case with its dyads in one statement; `with_timelines`: their timelines too (asked
    for by the operation), handed to the timeline loader so that no other statement reads
    them."""
    caller = request.caller
    if not caller.may_read_clients(clinic_id):
        return None  # as if it did not exist: other clinics' data does not leak
    async with request.snapshot() as session:
        found = await hot_queries.case_with_dyads(
            session, caller, clinic_id, case_id, with_timelines
        )
    if found is None:
        return None
    if found.timelines is not None:
        request.timeline_loader().prime_many(found.timelines)
    request.reads.read(found.view.clinic_id, found.view.case_id, [d.dyad_id for d in found.dyads])
    return CaseRead(found.view, found.dyads)


async def case_signals(
    request: Request, clinic_id: str, case_id: str, kinds: list[SignalKind] | None, first: int
) -> list[Signal]:
    async with request.snapshot() as session:
        return await queries.case_signals(
            session,
            request.caller,
            clinic_id,
            case_id,
            [k.value for k in kinds] if kinds else None,
            first,
        )


async def timeline(
    request: Request, dyad_id: uuid.UUID, instrument: str | None, include_replaced: bool = False
) -> list[DyadScore]:
    """One query for the timelines of every dyad in the response (a DataLoader). By default the
    corrected history (current versions); with `include_replaced`, the amended and voided
    versions too."""
    scores = await request.timeline_loader().load(dyad_id)
    return [
        s
        for s in scores
        if instrument in (None, s.instrument)
        and (include_replaced or s.status == ScoreStatus.CURRENT)
    ]


async def alert_history(request: Request, alert_id: uuid.UUID) -> list[AlertTransition]:
    """An alert's transitions in order (one query for every alert in the response, a
    DataLoader)."""
    return await request.history_loader().load(alert_id)


def require_clinic(request: Request, clinic_id: str) -> None:
    """A clinic is open to those who may read its clients or its aggregates."""
    caller = request.caller
    caller.require(caller.may_read_clients(clinic_id) or caller.may_read_aggregates(clinic_id))


def require_clients(request: Request, clinic_id: str) -> None:
    request.caller.require(request.caller.may_read_clients(clinic_id))


def require_caseload(request: Request, therapist_id: str) -> None:
    """A clinician sees only their own caseload (and digest)."""
    caller = request.caller
    caller.require(not caller.caseload_only or therapist_id == caller.subject)


async def case_page(
    request: Request,
    clinic_id: str,
    phase: Phase | None,
    therapist_id: str | None,
    first: int,
    after: CaseKey | None,
    open_alert_kind: AlertKind | None = None,
) -> Page[CaseRead]:
    """A page of a clinic's cases in case-id order, optionally one phase, one therapist's
    caseload, or only the cases with an active (open or acknowledged) alert of a kind, with
    their dyads."""
    require_clients(request, clinic_id)
    caller = request.caller
    async with request.snapshot() as session:
        views, has_next = await queries.clinic_cases(
            session,
            caller,
            clinic_id,
            phase.value if phase else None,
            therapist_id,
            first,
            after,
            open_alert_kind.value if open_alert_kind else None,
        )
    # One query for the dyads of the whole page (DataLoader), not one per case.
    dyads = await request.dyads_loader().load_many([(v.clinic_id, v.case_id) for v in views])
    cases = [CaseRead(v, d) for v, d in zip(views, dyads, strict=True)]
    for read in cases:
        request.reads.read(read.view.clinic_id, read.view.case_id, [d.dyad_id for d in read.dyads])
    return Page(cases, has_next)


async def alert_page(
    request: Request,
    clinic_id: str,
    status: AlertStatus | None,
    first: int,
    after: AlertKey | None,
) -> Page[Alert]:
    """A page of the clinic's alerts, newest first."""
    require_clients(request, clinic_id)
    async with request.snapshot() as session:
        rows, has_next = await hot_queries.clinic_alerts(
            session, request.caller, clinic_id, status.value if status else None, first, after
        )
    for row in rows:
        request.reads.read(row.clinic_id, row.case_id)
    return Page(rows, has_next)


async def active_alerts(request: Request, clinic_id: str, case_id: str) -> list[Alert]:
    """A case's active (open or acknowledged, snoozed or not) alerts, most urgent first: what
    the clinic's `alerts` query shows the caller of that case (its rule: the clinic's client-level
    data, and the query's scope). One query for every case in the response (a DataLoader);
    each alert is a read of its case, audited."""
    require_clients(request, clinic_id)
    rows = await request.active_alerts_loader().load((clinic_id, case_id))
    for row in rows:
        request.reads.read(row.clinic_id, row.case_id)
    return rows


async def digest(request: Request, clinic_id: str, therapist_id: str, day: date) -> Digest:
    """A therapist's alerts raised on one UTC day, their active alerts, and counts per kind."""
    require_clients(request, clinic_id)
    require_caseload(request, therapist_id)
    since = datetime.combine(day, time.min, tzinfo=UTC)
    async with request.snapshot() as session:
        raised, active = await queries.therapist_alerts(
            session,
            request.caller,
            clinic_id,
            therapist_id,
            since,
            since + timedelta(days=1),
        )
    for row in (*raised, *active):
        request.reads.read(row.clinic_id, row.case_id)
    counts: dict[str, int] = {}
    for row in raised:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    by_kind = [(AlertKind(k), n) for k, n in sorted(counts.items())]
    return Digest(raised=raised, active=active, raised_by_kind=by_kind)


async def audit_trail(
    request: Request, clinic_id: str, first: int, before: str | None
) -> list[asyncpg.Record]:
    """Who read the clinic's client-level data, newest first (clinic admins only)."""
    caller = request.caller
    caller.require(caller.may_read_audit(clinic_id))
    try:
        before_id = int(before) if before is not None else None
    except ValueError as exc:
        raise UserError("before: not a record id") from exc
    if before_id is not None and not 0 < before_id < 2**63:
        raise UserError("before: not a record id")
    return await writes.audit_trail(request.writer, clinic_id, first, before_id)


async def record_reads(request: Request, operation: str | None, address: str | None) -> None:
    """At the end of an operation that read client-level data: one append-only audit record
    per clinic (who, which cases and dyads, when, from where, which operation), also published.
    Written in the operation's own transaction, so the reads and their audit commit together."""
    if not request.reads.cases:
        return
    caller, cases, dyads, now = request.caller, request.reads.cases, request.reads.dyads, utc_now()

    async def write(conn: asyncpg.Connection) -> None:
        await writes.record_reads(conn, caller, cases, dyads, operation, address, now)

    await request.audit(write)


async def alert_notices(
    request: Request, clinic_id: str | None
) -> AsyncGenerator[AlertNotice, None]:
    """Alerts raised or changed within the caller's scope, as they happen (clinicians: the
    notices they receive)."""
    caller = request.caller
    if clinic_id is not None:
        caller.require(caller.may_read_clients(clinic_id))
    async with request.hub.listen() as queue:
        while True:
            notice = await queue.get()
            if not caller.may_read_clients(notice.clinic_id):
                continue
            if clinic_id is not None and notice.clinic_id != clinic_id:
                continue
            if caller.caseload_only and caller.subject not in notice.payload.recipients:
                continue
            yield notice


@dataclass(frozen=True)
class ClinicSummary:
    """Aggregates of one clinic over a period: no client-level data."""

    clinic_id: str
    since: datetime
    until: datetime
    cases_by_phase: list[tuple[str, int]]  # a snapshot, not limited to the period
    ruptures_opened: int
    ruptures_repaired: int
    ruptures_unresolved: int
    # Repairs over ruptures opened in the period (None when none opened); repairs of ruptures
    # opened before the period count too, so it can exceed 1.
    repair_rate: float | None
    termination_ready: int
    endings: list[tuple[str, int]]
    srs_distribution: list[tuple[str, int]]  # by decile of the latest SRS ("0.3-0.4")


def period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The period asked for; by default the last 90 days."""
    until = until or utc_now()
    since = since or until - timedelta(days=90)
    if since.tzinfo is None or until.tzinfo is None or since >= until:
        raise UserError("since, until: time-zoned, with since before until")
    return since, until


def _counts(values: dict[str, int]) -> list[tuple[str, int]]:
    return [(str(k), n) for k, n in sorted(values.items()) if k is not None]


async def _summary(
    request: Request, clinic_id: str, since: datetime, until: datetime
) -> ClinicSummary:
    async with request.snapshot() as session:
        data = await queries.clinic_summary(session, clinic_id, since, until)
    signals = data["signals"]
    opened = signals.get("rupture_opened", 0)
    repaired = signals.get("rupture_repaired", 0)
    return ClinicSummary(
        clinic_id=clinic_id,
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
            (f"{d / 10:.1f}-{(d + 1) / 10:.1f}", n) for d, n in sorted(data["srs_deciles"].items())
        ],
    )


async def clinic_summary(
    request: Request, clinic_id: str, since: datetime | None, until: datetime | None
) -> ClinicSummary:
    request.caller.require(request.caller.may_read_aggregates(clinic_id))
    return await _summary(request, clinic_id, *period(since, until))


async def network(
    request: Request, since: datetime | None, until: datetime | None
) -> list[ClinicSummary]:
    """The aggregates of every clinic the caller may see."""
    caller = request.caller
    async with request.snapshot() as session:
        clinics = [c for c in await queries.known_clinics(session) if caller.may_read_aggregates(c)]
    between = period(since, until)
    return [await _summary(request, c, *between) for c in clinics]
