"""Read-model queries (SQLModel over a read-only session). Every query is scoped by clinic."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from alliance_gateway.domain.cursor import AlertCursor
from alliance_shared.readmodels import Alert, CaseView, Dyad, DyadScore, Signal


async def case_dyads(session: AsyncSession, clinic_id: str, case_id: str) -> list[Dyad]:
    rows = await session.execute(
        select(Dyad)
        .where(Dyad.clinic_id == clinic_id, Dyad.case_id == case_id)
        .order_by(col(Dyad.respondent_role), col(Dyad.therapist_id), col(Dyad.dyad_id))
    )
    return list(rows.scalars())


async def case_view(session: AsyncSession, clinic_id: str, case_id: str) -> CaseView | None:
    rows = await session.execute(
        select(CaseView).where(CaseView.clinic_id == clinic_id, CaseView.case_id == case_id)
    )
    return rows.scalars().first()


async def dyad_timelines(
    session: AsyncSession, clinic_id: str, dyad_ids: Sequence[uuid.UUID]
) -> list[list[DyadScore]]:
    """Timelines of several dyads in one query (the DataLoader's batch function)."""
    rows = await session.execute(
        select(DyadScore)
        .where(DyadScore.clinic_id == clinic_id, col(DyadScore.dyad_id).in_(dyad_ids))
        .order_by(col(DyadScore.administered_at), col(DyadScore.session_number))
    )
    by_dyad: dict[uuid.UUID, list[DyadScore]] = defaultdict(list)
    for score in rows.scalars():
        by_dyad[score.dyad_id].append(score)
    return [by_dyad[d] for d in dyad_ids]


async def clinic_alerts(
    session: AsyncSession,
    clinic_id: str,
    status: str | None,
    first: int,
    after: AlertCursor | None,
) -> tuple[list[Alert], bool]:
    """One page of a clinic's alerts, newest first, keyset-paginated in SQL. Returns the page
    and whether there is a next one."""
    query = select(Alert).where(Alert.clinic_id == clinic_id)
    if status is not None:
        query = query.where(Alert.status == status)
    if after is not None:
        query = query.where(
            or_(
                col(Alert.raised_at) < after.raised_at,
                and_(col(Alert.raised_at) == after.raised_at, col(Alert.alert_id) < after.alert_id),
            )
        )
    query = query.order_by(col(Alert.raised_at).desc(), col(Alert.alert_id).desc()).limit(first + 1)
    rows = list((await session.execute(query)).scalars())
    return rows[:first], len(rows) > first


async def case_signals(
    session: AsyncSession, clinic_id: str, case_id: str, kinds: Sequence[str] | None, first: int
) -> list[Signal]:
    query = select(Signal).where(Signal.clinic_id == clinic_id, Signal.case_id == case_id)
    if kinds:
        query = query.where(col(Signal.kind).in_(kinds))
    query = query.order_by(col(Signal.occurred_at).desc(), col(Signal.event_id)).limit(first)
    return list((await session.execute(query)).scalars())


async def therapist_alerts(
    session: AsyncSession, clinic_id: str, therapist_id: str, since: datetime, until: datetime
) -> tuple[list[Alert], list[Alert]]:
    """The alerts raised for a therapist in [since, until), and all their active alerts."""
    mine = (Alert.clinic_id == clinic_id, Alert.therapist_id == therapist_id)
    raised = await session.execute(
        select(Alert)
        .where(*mine, col(Alert.raised_at) >= since, col(Alert.raised_at) < until)
        .order_by(col(Alert.raised_at), col(Alert.alert_id))
    )
    active = await session.execute(
        select(Alert)
        .where(*mine, Alert.status != "resolved")
        .order_by(col(Alert.priority), col(Alert.raised_at), col(Alert.alert_id))
        .limit(500)
    )
    return list(raised.scalars()), list(active.scalars())
