"""A replay of the alerts projection (a fresh database, its own generation and groups)
reproduces it as it was live, escalations included."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from alliance_alerts.entrypoints.app import create_app
from alliance_contracts.events import (
    AlertCommand,
    AlertCommandPayload,
    ScoringOutput,
)
from alliance_contracts.topics import ALERT_CLOCK, COMMANDS, CONFIG, NOTICES, SCORED
from alliance_contracts.vocabulary import AlertCommandAction
from alliance_platform.dbroles import bootstrap, service_url
from alliance_platform.migrate import installed_environments, upgrade
from tests.conftest import eventually
from tests.helpers import live_slot, produce, read_topic, serving
from tests.integration.test_alerts import FakeClock, settings, supervisor
from tests.stack import DB_PASSWORDS, Endpoints
from tests.unit.clinical import srs_series
from tests.unit.test_alert_rules import outputs


@contextlib.asynccontextmanager
async def fresh_database(stack: Endpoints, name: str) -> AsyncIterator[str]:
    """A throwaway database in the same PostgreSQL, with the services' roles and schemas (the
    systems of record migrated): a projection replayed there starts from nothing. Yields its
    administrator's URL."""
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(stack.database_url)._replace(path=f"/{name}"))
        await bootstrap(url, DB_PASSWORDS)
        await asyncio.to_thread(upgrade, url, installed_environments(), DB_PASSWORDS)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def alerts_of(
    conn: asyncpg.Pool | asyncpg.Connection, clinic: str, cases: list[str]
) -> dict[str, Any]:
    """The cases' alerts, every column (and the aggregate's private state: the alert with its
    history), and their transitions in time order."""
    slot = await live_slot(conn, "alerts")
    alerts = await conn.fetch(
        f"SELECT a.*, s.state FROM alerts.alert a JOIN {slot}.alert_state s USING (alert_id) "
        "WHERE a.clinic_id = $1 AND a.case_id = ANY($2::text[]) ORDER BY a.case_id, a.alert_id",
        clinic,
        cases,
    )
    transitions = await conn.fetch(
        "SELECT * FROM alerts.alert_transition WHERE alert_id = ANY($1::uuid[]) "
        "ORDER BY alert_id, at, action, event_id",
        [a["alert_id"] for a in alerts],
    )
    return {
        "alerts": [{**dict(a), "state": json.loads(a["state"])} for a in alerts],
        "transitions": [dict(t) for t in transitions],
    }


async def ids_on(stack: Endpoints, topic: str, clinic: str, cases: list[str]) -> list[str]:
    """The event ids of the cases' records on the topic, in topic order, repeats included."""
    records = await read_topic(stack.kafka_bootstrap_servers, topic)
    events = [json.loads(r.value) for r in records]
    return sorted(
        e["event_id"] for e in events if e.get("clinic_id") == clinic and e["case_id"] in cases
    )


def user_command(
    clinic: str, case: str, alert_id: uuid.UUID, action: AlertCommandAction, at: datetime
) -> AlertCommand:
    return AlertCommand(
        event_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=case,
        occurred_at=at,
        recorded_at=at,
        payload=AlertCommandPayload(
            alert_id=alert_id,
            action=action,
            actor_id="th-1",
            note="discussed in session" if action is AlertCommandAction.RESOLVE else None,
        ),
    )


async def test_a_replay_of_the_alerts_projection_reproduces_every_escalation(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """Live, on a fake clock: six rupture alerts; one is acknowledged before its escalation
    time (72 h), the five others escalate when the clock passes it; two of those are then
    acknowledged and one resolved. A replay of every topic into a fresh database, with a
    consumer group of its own, ends with the same alerts, histories and transitions, and makes
    no notice the live service did not make. Its clock decides nothing while it replays, and
    once caught up only what is new: a seventh alert, raised after the live service stopped."""
    clinic = ids("clinic")
    cases = [f"{ids('case')}-{n}" for n in range(6)]
    late_case = ids("late-case")

    def rupture(case: str) -> list[ScoringOutput]:
        return outputs(srs_series(case, [38] * 6 + [30], clinic=clinic))

    published = [e for case in cases for e in rupture(case)]
    await produce(stack.kafka_bootstrap_servers, CONFIG.name, [supervisor(clinic)])
    await produce(stack.kafka_bootstrap_servers, SCORED.name, published)
    clock = FakeClock(max(e.occurred_at for e in published) + timedelta(hours=1))

    async def live_alerts(**expected: int) -> dict[str, Any] | None:
        found = await alerts_of(pg, clinic, cases)
        rows = found["alerts"]
        counts = {
            "raised": len(rows),
            "escalated": sum(a["escalated"] for a in rows),
            "acknowledged": sum(a["status"] == "acknowledged" for a in rows),
            "resolved": sum(a["status"] == "resolved" for a in rows),
        }
        return found if all(counts[k] == v for k, v in expected.items()) else None

    async with serving(create_app(settings(stack), clock=clock)):
        raised = (await eventually(lambda: live_alerts(raised=6)))["alerts"]
        alert_of = {a["case_id"]: a["alert_id"] for a in raised}
        early = user_command(
            clinic, cases[0], alert_of[cases[0]], AlertCommandAction.ACKNOWLEDGE, clock.now
        )
        await produce(stack.kafka_bootstrap_servers, COMMANDS.name, [early])
        await eventually(lambda: live_alerts(acknowledged=1))
        clock.now += timedelta(hours=80)  # past every escalation time
        await eventually(lambda: live_alerts(escalated=5))
        later = [
            user_command(clinic, case, alert_of[case], action, clock.now + timedelta(hours=n))
            for n, (case, action) in enumerate(
                [
                    (cases[1], AlertCommandAction.ACKNOWLEDGE),
                    (cases[2], AlertCommandAction.ACKNOWLEDGE),
                    (cases[3], AlertCommandAction.RESOLVE),
                ]
            )
        ]
        await produce(stack.kafka_bootstrap_servers, COMMANDS.name, later)
        live = await eventually(lambda: live_alerts(escalated=5, acknowledged=3, resolved=1))
        await asyncio.sleep(1)  # a few more ticks: nothing more is decided
        assert await alerts_of(pg, clinic, cases) == live
        decided = await ids_on(stack, ALERT_CLOCK.name, clinic, cases)
        notices = await eventually(lambda: ids_on(stack, NOTICES.name, clinic, cases))

    escalations = [t for t in live["transitions"] if t["action"] == "escalated"]
    due = {a["alert_id"]: a["escalate_at"] for a in live["alerts"]}
    assert len(escalations) == 5
    assert all(t["at"] == due[t["alert_id"]] for t in escalations)  # dated at the due time
    assert len(set(decided)) == 5  # each escalation decided once (a repeat has its id)
    assert {a["alert_id"] for a in live["alerts"] if not a["escalated"]} == {alert_of[cases[0]]}
    assert len(set(notices)) == 6 + 1 + 5 + 3  # raised, acknowledged early, escalated, later
    await produce(stack.kafka_bootstrap_servers, SCORED.name, rupture(late_case))

    # The replay: every topic from the start, into a fresh database, with a group of its own.
    async with fresh_database(stack, ids("replay").replace("-", "_")) as admin_url:
        url = service_url(admin_url, "alerts", DB_PASSWORDS["alerts"])
        replica_settings = settings(stack).model_copy(update={"database_url": url})
        replay_app = create_app(replica_settings, clock=clock)
        replica = await asyncpg.connect(admin_url)
        try:
            async with serving(replay_app):

                async def replayed() -> dict[str, Any] | None:
                    found = await alerts_of(replica, clinic, cases)
                    return found if found == live else None

                await eventually(replayed, within=120)

                async def late_escalated() -> bool:
                    [late] = (await alerts_of(replica, clinic, [late_case]))["alerts"] or [None]
                    return late is not None and bool(late["escalated"])

                await eventually(late_escalated, within=60)  # the replay's clock is live now
                assert await alerts_of(replica, clinic, cases) == live
        finally:
            await replica.close()
    assert await ids_on(stack, ALERT_CLOCK.name, clinic, cases) == decided
    assert len(set(await ids_on(stack, ALERT_CLOCK.name, clinic, [late_case]))) == 1
    assert set(await ids_on(stack, NOTICES.name, clinic, cases)) == set(notices)
