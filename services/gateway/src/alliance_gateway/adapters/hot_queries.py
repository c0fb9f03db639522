"""The hot read paths, one statement each (decision 0020): a case with its dyads and their
timelines, and a page of a clinic's alerts. Each statement builds its JSON in PostgreSQL
(adapters/rows.py), has the caller's scope compiled in as parameters, and is compiled to SQL
text once per shape; nothing goes through the ORM. Like every query, they name only the
read-model contract (tests/unit/test_read_contract.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, Text, and_, bindparam, func, literal_column, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from alliance_contracts.access import Caller
from alliance_contracts.readmodels import Alert, CaseView, Dyad, DyadScore
from alliance_gateway.adapters.queries import DYAD_ORDER, TIMELINE_ORDER, caseload
from alliance_gateway.adapters.rows import (
    Compiled,
    as_text,
    compiled,
    json_list,
    json_row,
    read_many,
    read_one,
)


def scope_of_params(caseload_only: bool, clinic_column: Any, case_column: Any) -> Any:
    """`scope` with the caller as bind parameters (`caller_params`), for a statement compiled
    once for every caller of its kind."""
    allowed = col(clinic_column) == func.any(bindparam("clinics", type_=ARRAY(Text)))
    if caseload_only:
        allowed = and_(
            allowed,
            tuple_(clinic_column, case_column).in_(caseload(bindparam("subject", type_=Text))),
        )
    return allowed


def caller_params(caller: Caller) -> dict[str, Any]:
    return {"clinics": sorted(caller.clinics), "subject": caller.subject}


@dataclass(frozen=True)
class CaseRows:
    view: CaseView
    dyads: list[Dyad]
    timelines: dict[uuid.UUID, list[DyadScore]] | None  # every version; None: not asked for


@cache
def _case_statement(caseload_only: bool, timelines: bool) -> Compiled:
    of_case = (
        Dyad.clinic_id == bindparam("clinic_id"),
        Dyad.case_id == bindparam("case_id"),
        scope_of_params(caseload_only, Dyad.clinic_id, Dyad.case_id),
    )
    dyads = select(as_text(json_list(Dyad, *DYAD_ORDER))).where(*of_case).scalar_subquery()
    scores = (
        select(as_text(json_list(DyadScore, *TIMELINE_ORDER)))
        .where(col(DyadScore.dyad_id).in_(select(Dyad.dyad_id).where(*of_case)))
        .scalar_subquery()
        if timelines
        else literal_column("NULL")
    )
    return compiled(
        select(as_text(json_row(CaseView)), dyads, scores).where(
            CaseView.clinic_id == bindparam("clinic_id"),
            CaseView.case_id == bindparam("case_id"),
            scope_of_params(caseload_only, CaseView.clinic_id, CaseView.case_id),
        )
    )


async def case_with_dyads(
    session: AsyncSession, caller: Caller, clinic_id: str, case_id: str, timelines: bool
) -> CaseRows | None:
    """A case with its dyads and, if asked, their timelines: one statement, its JSON built in
    PostgreSQL, no ORM objects loaded (the hot path of the case query)."""
    statement = _case_statement(caller.caseload_only, timelines)
    params = statement.params(clinic_id=clinic_id, case_id=case_id, **caller_params(caller))
    row = (await session.execute(statement.sql, params)).first()
    if row is None:
        return None
    view, dyad_rows, score_rows = row
    dyads_found = read_many(Dyad, dyad_rows)
    by_dyad: dict[uuid.UUID, list[DyadScore]] | None = None
    if score_rows is not None:
        by_dyad = {d.dyad_id: [] for d in dyads_found}
        for score in read_many(DyadScore, score_rows):
            by_dyad[score.dyad_id].append(score)
    return CaseRows(read_one(CaseView, view), dyads_found, by_dyad)


async def clinic_alerts(
    session: AsyncSession,
    caller: Caller,
    clinic_id: str,
    status: str | None,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> tuple[list[Alert], bool]:
    """One page of a clinic's alerts, newest first, keyset-paginated in SQL after the
    (raised_at, alert_id) of the previous page's last alert. Returns the page and whether
    there is a next one."""
    statement = _alerts_statement(caller.caseload_only, status is not None, after is not None)
    raised_at, alert_id = after or (None, None)
    params = statement.params(
        clinic_id=clinic_id,
        status=status,
        raised_at=raised_at,
        alert_id=alert_id,
        limit=first + 1,
        **caller_params(caller),
    )
    result = await session.execute(statement.sql, params)
    # Each row one JSON object built in PostgreSQL, read into the contract's shape: no ORM.
    rows = [read_one(Alert, r) for r in result.scalars()]
    return rows[:first], len(rows) > first


@cache
def _alerts_statement(caseload_only: bool, by_status: bool, after: bool) -> Compiled:
    """A page of a clinic's alerts, newest first, after a (raised_at, alert_id) if given."""
    query = (
        select(as_text(json_row(Alert)))
        .where(Alert.clinic_id == bindparam("clinic_id"))
        .where(scope_of_params(caseload_only, Alert.clinic_id, Alert.case_id))
    )
    if by_status:
        query = query.where(Alert.status == bindparam("status"))
    if after:
        raised_at: Any = bindparam("raised_at")
        query = query.where(
            or_(
                col(Alert.raised_at) < raised_at,
                and_(
                    col(Alert.raised_at) == raised_at, col(Alert.alert_id) < bindparam("alert_id")
                ),
            )
        )
    order = (col(Alert.raised_at).desc(), col(Alert.alert_id).desc())
    return compiled(query.order_by(*order).limit(bindparam("limit")))
