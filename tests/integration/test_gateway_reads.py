"""The gateway reads the read-model contract on real PostgreSQL: one GraphQL operation reads one
snapshot (a case view and its dyads never come from two different transactions of their
writer), and an alert's history is its rows of `alerts.alert_transition`, every transition."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alliance_alerts.adapters.store import save_alerts
from alliance_alerts.domain.rules import Alert, Cause
from alliance_contracts.vocabulary import AlertKind, AlertPriority, AlertStatus
from alliance_gateway.adapters.snapshot import ReadSnapshot
from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings
from alliance_platform.db import create_engine
from alliance_scoring.adapters.store import save_cases
from tests.helpers import AUTH_ENV, bearer, create_projection_tables, on_live_slots, serving
from tests.integration.test_gateway import T0, gql
from tests.stack import Endpoints
from tests.unit.clinical import fold, response

CASE = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  latestSession dyads { respondentRole responses timeline { sessionNumber } }
  signals { kind } } }"""
READERS = 3
READS_EACH = 40


async def seed(pg: asyncpg.Pool, clinic: str, case: str, therapist: str = "th-1") -> None:
    """A case with a client's and two parents' dyads, through scoring's own writer."""
    events = [response(case, 1, "SRS", 38, clinic=clinic, therapist=therapist)] + [
        response(
            case,
            1,
            "SRS",
            36,
            clinic=clinic,
            therapist=therapist,
            role="parent",
            respondent_id=f"p{i}",
        )
        for i in range(2)
    ]
    async with on_live_slots(pg, "scoring") as conn:
        await save_cases(conn, [fold(events).state], T0)


async def test_a_case_view_and_its_dyads_always_come_from_the_same_transaction(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_projection_tables(stack, "scoring")
    clinic, case = ids("clinic"), ids("case")
    await seed(pg, clinic, case)
    stop, started = asyncio.Event(), asyncio.Event()
    committed = 0

    async def writer() -> None:
        """Scoring's role writes a counter into the case view and every dyad, in one
        transaction per step (as a batch does)."""
        nonlocal committed
        conn = await asyncpg.connect(stack.service_env("scoring")["DATABASE_URL"])
        try:
            n = 100
            while not stop.is_set():
                n += 1
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE scoring.case_view SET latest_session = $3 "
                        "WHERE clinic_id = $1 AND case_id = $2",
                        clinic,
                        case,
                        n,
                    )
                    await asyncio.sleep(0.001)  # readers run between the two statements
                    await conn.execute(
                        "UPDATE scoring.dyad SET responses = $3 "
                        "WHERE clinic_id = $1 AND case_id = $2",
                        clinic,
                        case,
                        n,
                    )
                committed += 1
                if committed == 3:
                    started.set()
                await asyncio.sleep(0)
        finally:
            await conn.close()

    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    begins: list[object] = []
    event.listen(app.state.engine.sync_engine, "begin", lambda conn: begins.append(conn))
    seen: list[tuple[int, list[int]]] = []

    async def reader(client: Any) -> None:
        for _ in range(READS_EACH):
            data = await gql(client, CASE, clinic=clinic, case=case)
            found = data["case"]
            seen.append((found["latestSession"], [d["responses"] for d in found["dyads"]]))

    async with serving(app) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        writing = asyncio.create_task(writer())
        try:
            await started.wait()  # the writer is under way before the first read
            begins.clear()
            await asyncio.gather(*(reader(client) for _ in range(READERS)))
        finally:
            stop.set()
            await writing
    mismatches = [(view, dyads) for view, dyads in seen if any(d != view for d in dyads)]
    assert len(seen) == READERS * READS_EACH >= 100
    assert all(len(dyads) == 3 for _, dyads in seen)
    assert mismatches == []
    # The writer kept committing while the reads ran: they saw many of its transactions.
    assert len({view for view, _ in seen}) >= 10
    # One read transaction per operation (case, dyads, timelines and signals in one).
    assert len(begins) == len(seen)


async def test_an_operations_reads_and_their_audit_are_one_transaction(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """The audit records of a read are written on the snapshot's connection, in its
    transaction, which commits before the answer: no other connection (the writer pool stays
    untouched), one BEGIN and one COMMIT, and the record is there when the answer arrives."""
    await create_projection_tables(stack, "scoring")
    clinic, case = ids("clinic"), ids("case")
    await seed(pg, clinic, case)
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    begins: list[object] = []
    commits: list[object] = []
    event.listen(app.state.engine.sync_engine, "begin", lambda conn: begins.append(conn))
    event.listen(app.state.engine.sync_engine, "commit", lambda conn: commits.append(conn))
    async with serving(app) as client:
        runtime = app.state.runtime
        writer, acquired = runtime.pool, 0

        class Counted:  # the writer pool, counting its acquires
            def __getattr__(self, name: str) -> Any:
                return getattr(writer, name)

            def acquire(self) -> Any:
                nonlocal acquired
                acquired += 1
                return writer.acquire()

        runtime.pool = Counted()
        client.headers.update(bearer("supervisor", [clinic], "sv-audit"))
        begins.clear()
        data = await gql(client, CASE, clinic=clinic, case=case)
        assert data["case"]["latestSession"] == 1
        [record] = await pg.fetch(
            "SELECT case_ids, cardinality(dyad_ids) AS dyads FROM gateway.read_audit "
            "WHERE subject = 'sv-audit' AND clinic_id = $1",
            clinic,
        )
        assert (len(begins), len(commits), acquired) == (1, 1, 0)
        runtime.pool = writer
    assert (record["case_ids"], record["dyads"]) == ([case], 3)


async def test_a_snapshot_is_one_read_only_repeatable_read_transaction(stack: Endpoints) -> None:
    engine = create_engine(stack.service_env("gateway")["DATABASE_URL"], 2, read_only=True)
    snapshot = ReadSnapshot(async_sessionmaker(engine, class_=AsyncSession))
    try:
        async with snapshot.session() as session:
            settings = await session.execute(
                text(
                    "SELECT current_setting('transaction_isolation'), "
                    "current_setting('transaction_read_only'), txid_current_if_assigned(), "
                    "pg_backend_pid()"
                )
            )
            isolation, read_only, _, first_pid = settings.one()
        async with snapshot.session() as session:
            second_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
        await snapshot.close()
        async with snapshot.session() as session:  # the next read opens a new one
            await session.execute(text("SELECT 1"))
        assert (isolation, read_only) == ("repeatable read", "on")
        assert first_pid == second_pid  # one connection
        assert snapshot.opened == 2
    finally:
        await snapshot.close()
        await engine.dispose()


HISTORY = """query($clinic: ID!) { alerts(clinicId: $clinic) { edges { node { alertId
  history { at action status actorId note } } } } }"""


def rupture_alert(clinic: str, case: str, raised_at: datetime) -> Alert:
    """An urgent SRS rupture alert of th-9, before its first transition."""
    return Alert(
        alert_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=case,
        kind=AlertKind.RUPTURE,
        subject="s",
        dyad=None,
        instrument="SRS",
        session_number=1,
        severity=None,
        priority=AlertPriority.URGENT,
        status=AlertStatus.OPEN,
        therapist_id="th-9",
        raised_at=raised_at,
        source_event_id=uuid.uuid4(),
        summary="test",
    )


async def test_an_alerts_history_is_every_transition_its_writer_recorded_in_order(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    clinic = ids("clinic")
    at = [T0 + timedelta(hours=h) for h in range(8)]
    alert = rupture_alert(clinic, "case-h", at[0])
    steps: list[Callable[[Alert], Alert]] = [
        lambda a: a.raised(Cause(at=at[0], key="raise")),
        lambda a: a.updated(Cause(at=at[0], key="update"), ()),  # same time: order by place
        lambda a: a.snoozed(Cause(at=at[1], key="snooze", actor_id="th-9"), at[2]),
        lambda a: a.acknowledged(Cause(at=at[2], key="ack", actor_id="th-9", note="seen")),
        lambda a: a.reassigned(Cause(at=at[3], key="reassign", actor_id="sv-1"), "th-10"),
        lambda a: a.escalated_to_supervisors(Cause(at=at[4], key="escalate")),
        lambda a: a.handed_over(Cause(at=at[5], key="handover"), "th-11"),
        lambda a: a.auto_resolved(Cause(at=at[6], key="clear", note="condition cleared")),
    ]
    for step in steps:  # one save per transition, as the service does
        alert = step(alert)
        async with on_live_slots(pg, "alerts") as conn:
            await save_alerts(conn, [alert])
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    async with serving(app) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        data = await gql(client, HISTORY, clinic=clinic)
    [edge] = data["alerts"]["edges"]
    assert edge["node"]["history"] == [
        {
            "at": t.at.isoformat(),
            "action": t.action.value,
            "status": t.status.name,
            "actorId": t.actor_id,
            "note": t.note,
        }
        for t in alert.history
    ]
    assert [h["action"] for h in edge["node"]["history"]] == [
        "raised",
        "updated",
        "snoozed",
        "acknowledged",
        "reassigned",
        "escalated",
        "handed_over",
        "auto_resolved",
    ]


async def test_the_gateway_may_not_read_the_alerts_aggregate(stack: Endpoints) -> None:
    """Its serialization is private to alerts (the gateway reads the declared read models)."""
    slot = await create_projection_tables(stack, "alerts")
    conn = await asyncpg.connect(stack.service_env("gateway")["DATABASE_URL"])
    try:
        await conn.fetch("SELECT * FROM alerts.alert LIMIT 1")
        await conn.fetch("SELECT * FROM alerts.alert_transition LIMIT 1")
        await conn.fetch("SELECT * FROM alerts.assignment LIMIT 1")
        for private in ("alert_state", "staff", "case_signal"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {slot}.{private} LIMIT 1")
    finally:
        await conn.close()


async def test_an_escalation_recorded_after_a_later_acknowledgement_takes_its_place(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """A replay may apply an acknowledgement before the clock's earlier escalation (two topics):
    the escalation goes in at its time and the acknowledgement moves one place on, as live."""
    await create_projection_tables(stack, "alerts")
    clinic = ids("clinic")
    at = [T0 + timedelta(hours=h) for h in range(3)]
    alert = rupture_alert(clinic, "case-e", at[0])
    alert = alert.raised(Cause(at=at[0], key="raise"))
    acknowledged = alert.acknowledged(Cause(at=at[2], key="ack", actor_id="th-9"))
    escalated = acknowledged.escalation_recorded(Cause(at=at[1], key="escalate"))
    assert escalated is not None
    for state in (alert, acknowledged, escalated):  # one save per event, as the service does
        async with on_live_slots(pg, "alerts") as conn:
            await save_alerts(conn, [state])
    rows = await pg.fetch(
        "SELECT seq, action, status FROM alerts.alert_transition WHERE alert_id = $1 ORDER BY seq",
        alert.alert_id,
    )
    assert [(r["seq"], r["action"], r["status"]) for r in rows] == [
        (0, "raised", "open"),
        (1, "escalated", "open"),
        (2, "acknowledged", "acknowledged"),
    ]


CASES_WITH_ALERT = """query($clinic: ID!, $kind: AlertKind!, $after: String) {
  clinic(clinicId: $clinic) { cases(first: 1, after: $after, openAlertKind: $kind) {
    edges { node { caseId } } pageInfo { hasNextPage endCursor } } } }"""
CASELOAD_WITH_ALERT = """query($clinic: ID!, $therapist: ID!, $kind: AlertKind!, $after: String) {
  clinic: therapist(clinicId: $clinic, therapistId: $therapist) {
    cases: caseload(first: 1, after: $after, openAlertKind: $kind) {
      edges { node { caseId } } pageInfo { hasNextPage endCursor } } } }"""


async def every_page(client: Any, query: str, **variables: Any) -> list[list[str]]:
    """The case ids of every page of a case listing, following its cursors to the end."""
    pages: list[list[str]] = []
    after = None
    while True:
        cases = (await gql(client, query, after=after, **variables))["clinic"]["cases"]
        pages.append([edge["node"]["caseId"] for edge in cases["edges"]])
        if not cases["pageInfo"]["hasNextPage"]:
            return pages
        after = cases["pageInfo"]["endCursor"]


async def test_cases_with_an_active_alert_of_a_kind_are_paged_in_sql_within_the_callers_scope(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """`openAlertKind`: exactly the cases with an open or acknowledged alert of that kind, one a
    page, every page full (the filter is in SQL, before the page is cut); a resolved alert, an
    alert of another kind, or another clinic's alert on a case of the same id does not count,
    and a clinician gets only the matching cases of their caseload."""
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    clinic, other_clinic, base = ids("clinic"), ids("other-clinic"), ids("case")
    case = [f"{base}-{i}" for i in range(7)]  # in case-id order
    for c in case:
        await seed(pg, clinic, c, therapist="th-2" if c == case[5] else "th-1")
    await seed(pg, other_clinic, case[1])

    def alert(
        clinic_id: str, case_id: str, kind: AlertKind = AlertKind.RUPTURE, subject: str = "s"
    ) -> Alert:
        new = rupture_alert(clinic_id, case_id, T0)
        return new.model_copy(update={"kind": kind, "subject": subject}).raised(
            Cause(at=T0, key="raise")
        )

    later = Cause(at=T0 + timedelta(days=1), key="later", actor_id="th-1", note="talked")
    alerts = [
        alert(clinic, case[0]),  # open
        alert(clinic, case[2]).acknowledged(later),
        alert(clinic, case[3]).resolved(later),  # resolved: not active
        alert(clinic, case[4], AlertKind.DETERIORATION),  # another kind
        alert(clinic, case[5]),  # th-2's case
        alert(clinic, case[6]),
        alert(clinic, case[6], subject="parent"),  # two of the kind: the case once
        alert(other_clinic, case[1]),  # the same case id in another clinic
    ]
    async with on_live_slots(pg, "alerts") as conn:
        await save_alerts(conn, alerts)
    ruptures = {"kind": "RUPTURE"}
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    async with serving(app) as client:
        client.headers.update(bearer("supervisor", [clinic, other_clinic], "sv-1"))
        supervisor = await every_page(client, CASES_WITH_ALERT, clinic=clinic, **ruptures)
        deteriorations = await every_page(
            client, CASES_WITH_ALERT, clinic=clinic, kind="DETERIORATION"
        )
        in_other_clinic = await every_page(
            client, CASES_WITH_ALERT, clinic=other_clinic, **ruptures
        )
        client.headers.update(bearer("clinician", [clinic], "th-1"))
        clinician = await every_page(client, CASES_WITH_ALERT, clinic=clinic, **ruptures)
        caseload = await every_page(
            client, CASELOAD_WITH_ALERT, clinic=clinic, therapist="th-1", **ruptures
        )
    assert supervisor == [[case[0]], [case[2]], [case[5]], [case[6]]]
    assert deteriorations == [[case[4]]]
    assert in_other_clinic == [[case[1]]]
    assert clinician == caseload == [[case[0]], [case[2]], [case[6]]]
    # What the filter promises, read from the alerts themselves.
    active = {
        (r["clinic_id"], r["case_id"])
        for r in await pg.fetch(
            "SELECT clinic_id, case_id FROM alerts.alert WHERE kind = 'rupture' "
            "AND status <> 'resolved' AND clinic_id = ANY($1::text[])",
            [clinic, other_clinic],
        )
    }
    assert {(clinic, c) for [c] in supervisor} == {k for k in active if k[0] == clinic}


PAGE_WITH_ALERTS = """query($clinic: ID!, $kind: AlertKind, $after: String) {
  clinic(clinicId: $clinic) { cases(first: 25, after: $after, openAlertKind: $kind) {
    edges { node { caseId activeAlerts { alertId caseId kind status snoozedUntil } } }
    pageInfo { hasNextPage endCursor } } } }"""
CASE_ALERTS = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  activeAlerts { alertId } } }"""
CLINIC_ALERTS = """query($clinic: ID!, $after: String) {
  alerts(clinicId: $clinic, first: 200, after: $after) {
    edges { node { alertId caseId status } } pageInfo { hasNextPage endCursor } } }"""
URGENCY = [AlertPriority.SAME_DAY, AlertPriority.URGENT, AlertPriority.ROUTINE]


async def active_by_case(client: Any, clinic: str) -> dict[str, set[str]]:
    """What the clinic's `alerts` query shows the caller, every page: the ids of each case's
    active alerts."""
    by_case: dict[str, set[str]] = {}
    after = None
    while True:
        alerts = (await gql(client, CLINIC_ALERTS, clinic=clinic, after=after))["alerts"]
        for edge in alerts["edges"]:
            if edge["node"]["status"] != "RESOLVED":
                by_case.setdefault(edge["node"]["caseId"], set()).add(edge["node"]["alertId"])
        if not alerts["pageInfo"]["hasNextPage"]:
            return by_case
        after = alerts["pageInfo"]["endCursor"]


async def test_every_case_of_a_page_gets_exactly_its_own_active_alerts_in_one_query(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """`Case.activeAlerts` in a clinic with 120 active alerts (more than the console's former
    clinic-wide fetch of 100): every case of every page has exactly its open and acknowledged
    alerts (snoozed ones too), most urgent first, as the clinic's `alerts` query shows them to
    the same caller; no resolved alert, no other clinic's alert on a case of the same id; a
    clinician sees only their caseload's cases; a page's alerts are one statement."""
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    clinic, other_clinic, base = ids("clinic"), ids("other-clinic"), ids("case")
    case = [f"{base}-{i:02d}" for i in range(30)]  # in case-id order
    theirs = [c for i, c in enumerate(case) if i % 4 == 3]  # th-2's cases; the others th-1's
    for c in case:
        await seed(pg, clinic, c, therapist="th-2" if c in theirs else "th-1")
    for c in case[:3]:
        await seed(pg, other_clinic, c)
    times = iter(T0 + timedelta(minutes=n) for n in range(1000))

    def alert(clinic_id: str, case_id: str, n: int, subject: str = "s") -> Alert:
        at = next(times)
        new = rupture_alert(clinic_id, case_id, at).model_copy(
            update={
                "kind": list(AlertKind)[n % len(AlertKind)],
                "subject": subject,
                "priority": URGENCY[n % 3],
            }
        )
        return new.raised(Cause(at=at, key="raise"))

    later = Cause(at=T0 + timedelta(days=1), key="later", actor_id="th-1", note="talked")
    active: list[Alert] = []
    inactive: list[Alert] = []
    for i, c in enumerate(case):
        for n in range(2 + i % 5):  # 2 to 6 alerts a case (kinds differ), 120 in all
            made = alert(clinic, c, n + i)
            if n % 3 == 1:
                made = made.acknowledged(later)
            elif n % 3 == 2:
                made = made.snoozed(later, later.at + timedelta(days=3))
            active.append(made)
        inactive.append(alert(clinic, c, i, subject="resolved").resolved(later))
    inactive += [alert(other_clinic, c, 0) for c in case[:3]]  # same case ids, another clinic
    async with on_live_slots(pg, "alerts") as conn:
        await save_alerts(conn, active + inactive)
    assert len(active) == 120
    # Each case's active alerts, most urgent first, then oldest first.
    want: dict[str, list[str]] = {c: [] for c in case}
    for a in sorted(active, key=lambda a: (URGENCY.index(a.priority), a.raised_at)):
        want[a.case_id].append(str(a.alert_id))
    shape = {
        str(a.alert_id): (a.case_id, a.kind.name, a.status.name, a.snoozed_until is not None)
        for a in active
    }
    assert {(status, snoozed) for _, _, status, snoozed in shape.values()} == {
        ("OPEN", False),
        ("OPEN", True),
        ("ACKNOWLEDGED", False),
    }

    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    statements: list[str] = []
    event.listen(
        app.state.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )

    async def pages(kind: str | None = None) -> list[tuple[list[dict[str, Any]], int, int]]:
        """Every page of the clinic's cases, with its SELECT statements: all, and those that
        read the alerts."""
        found, after = [], None
        while True:
            statements.clear()
            data = await gql(client, PAGE_WITH_ALERTS, clinic=clinic, kind=kind, after=after)
            selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
            cases = data["clinic"]["cases"]
            nodes = [edge["node"] for edge in cases["edges"]]
            found.append((nodes, len(selects), sum("FROM alerts.alert" in s for s in selects)))
            if not cases["pageInfo"]["hasNextPage"]:
                return found
            after = cases["pageInfo"]["endCursor"]

    async with serving(app) as client:
        client.headers.update(bearer("supervisor", [clinic, other_clinic], "sv-1"))
        supervisor = await pages()
        with_critical_item = await pages("CRITICAL_ITEM")
        supervisor_sees = await active_by_case(client, clinic)
        client.headers.update(bearer("clinician", [clinic], "th-1"))
        clinician = await pages()
        clinician_sees = await active_by_case(client, clinic)
        not_theirs = await gql(client, CASE_ALERTS, clinic=clinic, case=theirs[0])
        own = await gql(client, CASE_ALERTS, clinic=clinic, case=case[0])

    def shown(listing: list[tuple[list[dict[str, Any]], int, int]]) -> dict[str, list[str]]:
        nodes = [node for page, _, _ in listing for node in page]
        for node in nodes:
            for a in node["activeAlerts"]:
                assert shape[a["alertId"]] == (
                    node["caseId"],
                    a["kind"],
                    a["status"],
                    a["snoozedUntil"] is not None,
                ), a
        return {node["caseId"]: [a["alertId"] for a in node["activeAlerts"]] for node in nodes}

    # Every case, on two pages, each with exactly its active alerts in order: none resolved,
    # none of the other clinic's case of the same id.
    assert [len(page) for page, _, _ in supervisor] == [25, 5]
    assert shown(supervisor) == want
    # Per page: the page of cases, its cases' dyads and their active alerts, one statement each.
    assert [(selects, of_alerts) for _, selects, of_alerts in supervisor] == [(3, 1), (3, 1)]
    # The same alerts as the clinic's `alerts` query shows the same caller.
    assert {c: set(a) for c, a in shown(supervisor).items()} == supervisor_sees
    # Filtered by a kind: each case shows its alerts, among them one of the kind it matched.
    filtered = shown(with_critical_item)
    assert filtered
    assert filtered == {c: want[c] for c in filtered}
    assert all("CRITICAL_ITEM" in [shape[a][1] for a in filtered[c]] for c in filtered)
    assert {c for c in want if any(shape[a][1] == "CRITICAL_ITEM" for a in want[c])} == set(
        filtered
    )
    # A clinician: only the cases of their caseload, each with exactly its active alerts, as
    # their `alerts` query shows them; another therapist's case is not found.
    assert shown(clinician) == {c: want[c] for c in case if c not in theirs}
    assert {c: set(a) for c, a in shown(clinician).items()} == clinician_sees
    assert [(selects, of_alerts) for _, selects, of_alerts in clinician] == [(3, 1)]
    assert not_theirs == {"case": None}
    assert [a["alertId"] for a in own["case"]["activeAlerts"]] == want[case[0]]
