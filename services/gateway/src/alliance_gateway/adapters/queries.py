"""Read-model queries (SQLModel over the operation's read-only snapshot). They name only the
tables and columns of the read-model contract (`alliance_contracts.readmodels`; checked by
tests/unit/test_read_contract.py), whose JSON columns arrive typed.

Authorisation is enforced here, where data is read: every query takes the caller and adds its
scope to the SQL (the caller's clinics; for clinicians, their caseload). A resolver cannot
forget it, because no query exists without it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    and_,
    case,
    exists,
    func,
    literal_column,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select

from alliance_contracts.access import Caller
from alliance_contracts.readmodels import (
    Alert,
    AlertTransition,
    CaseAssignment,
    CaseView,
    Dyad,
    DyadScore,
    Signal,
)
from alliance_contracts.vocabulary import AlertStatus, ScoreStatus


def caseload(subject: Any) -> Any:
    """The (clinic, case) pairs of a therapist (an id or a bind parameter): the cases they rate
    or take part in, and those assigned to them. Pairs, because case ids are only unique
    within a clinic."""
    return union(
        select(Dyad.clinic_id, Dyad.case_id).where(Dyad.therapist_id == subject),
        select(CaseAssignment.clinic_id, CaseAssignment.case_id).where(
            CaseAssignment.therapist_id == subject
        ),
    )


def scope(caller: Caller, clinic_column: Any, case_column: Any) -> ColumnElement[bool]:
    """The rows of client-level data the caller may read."""
    allowed: ColumnElement[bool] = col(clinic_column).in_(sorted(caller.clinics))
    if caller.caseload_only:
        allowed = and_(allowed, tuple_(clinic_column, case_column).in_(caseload(caller.subject)))
    return allowed


async def case_view(
    session: AsyncSession, caller: Caller, clinic_id: str, case_id: str
) -> CaseView | None:
    rows = await session.execute(
        select(CaseView)
        .where(CaseView.clinic_id == clinic_id, CaseView.case_id == case_id)
        .where(scope(caller, CaseView.clinic_id, CaseView.case_id))
    )
    return rows.scalars().first()


# A dyad's scores in administration order; a version replaced by an amendment or voided comes
# before the current one of its place.
TIMELINE_ORDER = (
    col(DyadScore.administered_at),
    col(DyadScore.session_number),
    col(DyadScore.instrument),
    col(DyadScore.status) == literal_column(f"'{ScoreStatus.CURRENT.value}'"),
    col(DyadScore.source_event_id),
)
DYAD_ORDER = (col(Dyad.respondent_role), col(Dyad.therapist_id), col(Dyad.dyad_id))


async def dyad_timelines(
    session: AsyncSession, caller: Caller, dyad_ids: Sequence[uuid.UUID]
) -> list[list[DyadScore]]:
    """Timelines of several dyads in one query (the DataLoader's batch function), every version:
    a version replaced by an amendment or voided comes before the current one of its place."""
    visible = select(Dyad.dyad_id).where(scope(caller, Dyad.clinic_id, Dyad.case_id))
    rows = await session.execute(
        select(DyadScore)
        .where(col(DyadScore.dyad_id).in_(dyad_ids), col(DyadScore.dyad_id).in_(visible))
        .order_by(*TIMELINE_ORDER)
    )
    by_dyad: dict[uuid.UUID, list[DyadScore]] = defaultdict(list)
    for score in rows.scalars():
        by_dyad[score.dyad_id].append(score)
    return [by_dyad[d] for d in dyad_ids]


async def case_signals(
    session: AsyncSession,
    caller: Caller,
    clinic_id: str,
    case_id: str,
    kinds: Sequence[str] | None,
    first: int,
) -> list[Signal]:
    query = (
        select(Signal)
        .where(Signal.clinic_id == clinic_id, Signal.case_id == case_id)
        .where(col(Signal.withdrawn_at).is_(None))  # no longer holds
        .where(scope(caller, Signal.clinic_id, Signal.case_id))
    )
    if kinds:
        query = query.where(col(Signal.kind).in_(kinds))
    query = query.order_by(col(Signal.occurred_at).desc(), col(Signal.event_id)).limit(first)
    return list((await session.execute(query)).scalars())


async def alert_by_id(session: AsyncSession, caller: Caller, alert_id: uuid.UUID) -> Alert | None:
    rows = await session.execute(
        select(Alert)
        .where(Alert.alert_id == alert_id)
        .where(scope(caller, Alert.clinic_id, Alert.case_id))
    )
    return rows.scalars().first()


async def alert_histories(
    session: AsyncSession, caller: Caller, alert_ids: Sequence[uuid.UUID]
) -> list[list[AlertTransition]]:
    """The histories of several alerts in one query (a DataLoader's batch function): their
    transitions in order."""
    visible = select(Alert.alert_id).where(scope(caller, Alert.clinic_id, Alert.case_id))
    rows = await session.execute(
        select(AlertTransition)
        .where(col(AlertTransition.alert_id).in_(alert_ids))
        .where(col(AlertTransition.alert_id).in_(visible))
        .order_by(col(AlertTransition.alert_id), col(AlertTransition.seq))
    )
    by_alert: dict[uuid.UUID, list[AlertTransition]] = defaultdict(list)
    for transition in rows.scalars():
        by_alert[transition.alert_id].append(transition)
    return [by_alert[a] for a in alert_ids]


# An active alert: the predicate of the alerts' partial unique index (clinic, case, kind,
# subject) written as a literal, so that the planner can prove the index applies (a bound
# parameter would hide it from a generic plan).
ACTIVE_ALERT = col(Alert.status) != literal_column(f"'{AlertStatus.RESOLVED.value}'")


# Most urgent first (the priorities do not sort alphabetically).
_URGENCY = case(
    (col(Alert.priority) == "same_day", 0), (col(Alert.priority) == "urgent", 1), else_=2
)


async def active_alerts_of_cases(
    session: AsyncSession, caller: Caller, keys: Sequence[tuple[str, str]]
) -> list[list[Alert]]:
    """The active alerts of several (clinic, case) pairs in one query (a DataLoader's batch
    function), most urgent first, in the caller's scope: what the `alerts` query shows them of
    each case (pairs, because case ids are only unique within a clinic)."""
    rows = await session.execute(
        select(Alert)
        .where(tuple_(Alert.clinic_id, Alert.case_id).in_(list(keys)), ACTIVE_ALERT)
        .where(scope(caller, Alert.clinic_id, Alert.case_id))
        .order_by(_URGENCY, col(Alert.raised_at), col(Alert.alert_id))
    )
    by_case: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for alert in rows.scalars():
        by_case[(alert.clinic_id, alert.case_id)].append(alert)
    return [by_case[k] for k in keys]


async def therapist_alerts(
    session: AsyncSession,
    caller: Caller,
    clinic_id: str,
    therapist_id: str,
    since: datetime,
    until: datetime,
) -> tuple[list[Alert], list[Alert]]:
    """The alerts raised for a therapist in [since, until), and all their active alerts."""
    mine = (
        Alert.clinic_id == clinic_id,
        Alert.therapist_id == therapist_id,
        scope(caller, Alert.clinic_id, Alert.case_id),
    )
    raised = await session.execute(
        select(Alert)
        .where(*mine, col(Alert.raised_at) >= since, col(Alert.raised_at) < until)
        .order_by(col(Alert.raised_at), col(Alert.alert_id))
    )
    active = await session.execute(
        select(Alert)
        .where(*mine, ACTIVE_ALERT)
        .order_by(_URGENCY, col(Alert.raised_at), col(Alert.alert_id))
        .limit(500)
    )
    return list(raised.scalars()), list(active.scalars())


async def known_clinics(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(CaseView.clinic_id).distinct().order_by(CaseView.clinic_id))
    return [r[0] for r in rows.all()]


async def clinic_summary(
    session: AsyncSession, clinic_id: str, since: datetime, until: datetime
) -> dict[str, Any]:
    """Aggregates only: no client-level row leaves this function."""
    phases = await session.execute(
        select(CaseView.phase, func.count())
        .where(CaseView.clinic_id == clinic_id)
        .group_by(col(CaseView.phase))
    )
    signals = await session.execute(
        select(Signal.kind, func.count())
        .where(
            Signal.clinic_id == clinic_id,
            col(Signal.withdrawn_at).is_(None),
            col(Signal.occurred_at) >= since,
            col(Signal.occurred_at) < until,
        )
        .group_by(col(Signal.kind))
    )
    # Constant JSON paths as literal SQL: bound parameters would differ between the SELECT
    # and the GROUP BY, which PostgreSQL then refuses to match. Qualified, so that the contract
    # test sees the columns they name.
    ending: Any = literal_column("scoring.case_view.episode->>'ending'")
    ended_at = func.cast(
        literal_column("scoring.case_view.episode->>'ended_at'"), DateTime(timezone=True)
    )
    endings = await session.execute(
        select(ending, func.count())
        .where(CaseView.clinic_id == clinic_id, ended_at >= since, ended_at < until)
        .group_by(ending)
    )
    normalized = func.cast(literal_column("scoring.dyad.latest->'SRS'->>'normalized'"), Float)
    bucket = func.least(func.floor(normalized * 10), 9)
    distribution = await session.execute(
        select(bucket, func.count())
        .where(
            Dyad.clinic_id == clinic_id,
            Dyad.respondent_role != "therapist",
            normalized.is_not(None),
        )
        .group_by(bucket)
        .order_by(bucket)
    )
    return {
        "phases": dict(phases.all()),
        "signals": dict(signals.all()),
        "endings": dict(endings.all()),
        "srs_deciles": {int(b): n for b, n in distribution.all()},
    }


def active_alert_of_kind(kind: str) -> ColumnElement[bool]:
    """The case view's row has an active alert of `kind`: one probe of the partial index."""
    return exists().where(
        col(Alert.clinic_id) == CaseView.clinic_id,
        col(Alert.case_id) == CaseView.case_id,
        col(Alert.kind) == kind,
        ACTIVE_ALERT,
    )


async def clinic_cases(
    session: AsyncSession,
    caller: Caller,
    clinic_id: str,
    phase: str | None,
    therapist_id: str | None,
    first: int,
    after: str | None,
    open_alert_kind: str | None,
) -> tuple[list[CaseView], bool]:
    """A page of a clinic's cases in case-id order (keyset, in SQL, after the previous page's
    last case id), optionally one phase, one therapist's caseload, or only the cases with an
    active (open or acknowledged) alert of a kind. Returns the page and whether there is a
    next one."""
    query = (
        select(CaseView)
        .where(CaseView.clinic_id == clinic_id)
        .where(scope(caller, CaseView.clinic_id, CaseView.case_id))
    )
    if phase is not None:
        query = query.where(CaseView.phase == phase)
    if open_alert_kind is not None:
        query = query.where(active_alert_of_kind(open_alert_kind))
    if therapist_id is not None:
        query = query.where(
            tuple_(CaseView.clinic_id, CaseView.case_id).in_(caseload(therapist_id))
        )
    if after is not None:
        query = query.where(col(CaseView.case_id) > after)
    rows = list(
        (await session.execute(query.order_by(col(CaseView.case_id)).limit(first + 1))).scalars()
    )
    return rows[:first], len(rows) > first


async def dyads_of_cases(
    session: AsyncSession, caller: Caller, keys: Sequence[tuple[str, str]]
) -> list[list[Dyad]]:
    """The dyads of several cases in one query (a DataLoader's batch function)."""
    rows = await session.execute(
        select(Dyad)
        .where(col(Dyad.case_id).in_([case for _, case in keys]))
        .where(scope(caller, Dyad.clinic_id, Dyad.case_id))
        .order_by(*DYAD_ORDER)
    )
    by_case: dict[tuple[str, str], list[Dyad]] = defaultdict(list)
    for dyad in rows.scalars():
        by_case[(dyad.clinic_id, dyad.case_id)].append(dyad)
    return [by_case[k] for k in keys]


@dataclass(frozen=True)
class ScoreOfCase:
    """A score version with its case, and whether it is an amendment (a current version that
    replaced earlier ones): a FHIR Observation's data (docs/fhir.md)."""

    score: DyadScore
    case_id: str
    amends: bool


ScoreKey = tuple[datetime, uuid.UUID]  # (administered_at, source_event_id), ascending


async def scores_of_cases(
    session: AsyncSession,
    caller: Caller,
    *,
    case_id: str | None = None,
    instruments: Sequence[str] | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    score_id: uuid.UUID | None = None,
    first: int = 1,
    after: ScoreKey | None = None,
) -> tuple[list[ScoreOfCase], bool]:
    """The current and voided score versions in the caller's scope (a version an amendment
    replaced is not served: the amendment is), in (administered_at, source_event_id) order,
    keyset after `after`; administered in [since, before). One page and whether more follow."""
    replaced = aliased(DyadScore)
    # Same dyad, instrument and time as the version it replaced: the timeline index finds it.
    amends = exists().where(
        col(replaced.dyad_id) == DyadScore.dyad_id,
        col(replaced.instrument) == DyadScore.instrument,
        col(replaced.administered_at) == DyadScore.administered_at,
        col(replaced.replaced_by) == DyadScore.source_event_id,
        col(replaced.status) == ScoreStatus.AMENDED.value,
    )
    query = (
        select(DyadScore, Dyad.case_id, amends.label("amends"))
        .join(Dyad, col(Dyad.dyad_id) == DyadScore.dyad_id)
        .where(col(DyadScore.status).in_([ScoreStatus.CURRENT.value, ScoreStatus.VOIDED.value]))
        .where(scope(caller, Dyad.clinic_id, Dyad.case_id))
    )
    if case_id is not None:
        query = query.where(Dyad.case_id == case_id)
    if instruments:
        query = query.where(col(DyadScore.instrument).in_(instruments))
    if since is not None:
        query = query.where(col(DyadScore.administered_at) >= since)
    if before is not None:
        query = query.where(col(DyadScore.administered_at) < before)
    if score_id is not None:
        query = query.where(DyadScore.source_event_id == score_id)
    if after is not None:
        query = query.where(
            tuple_(DyadScore.administered_at, DyadScore.source_event_id) > tuple_(*after)
        )
    query = query.order_by(col(DyadScore.administered_at), col(DyadScore.source_event_id)).limit(
        first + 1
    )
    rows = [ScoreOfCase(s, c, a) for s, c, a in await session.execute(query)]
    return rows[:first], len(rows) > first
