"""Alerts against real Kafka and PostgreSQL: rules from scoring's events, de-duplication under
redelivery, lifecycle commands, escalation on a fake clock, routing and handover, notices."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from alliance_alerts.adapters.unit_of_work import PostgresAlertsUnitOfWork
from alliance_alerts.application.handlers import apply_clock
from alliance_alerts.domain.rules import Alert, escalation_due
from alliance_alerts.entrypoints.app import create_app
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.events import (
    CLINIC_LEVEL_CASE_ID,
    AlertCommand,
    AlertCommandPayload,
    CaseAssigned,
    CaseAssignedPayload,
    EscalationDue,
    StaffChanged,
    StaffChangedPayload,
)
from alliance_contracts.topics import ALERT_CLOCK, COMMANDS, CONFIG, NOTICES, SCORED
from alliance_contracts.vocabulary import AlertCommandAction, StaffRole
from tests.conftest import eventually
from tests.helpers import (
    AUTH_ENV,
    of_case,
    produce,
    read_topic,
    serving,
    slot_pool,
)
from tests.stack import Endpoints
from tests.unit.clinical import srs_series
from tests.unit.test_alert_rules import outputs, run_alerts


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(stack: Endpoints) -> AlertsSettings:
    return AlertsSettings.model_validate(
        {**stack.service_env("alerts"), **AUTH_ENV, "ALLIANCE_ALERTS_TICK_SECONDS": "0.2"}
    )


def supervisor(clinic: str) -> StaffChanged:
    """The clinic's supervisor `sup-1` (escalated alerts reach them)."""
    return StaffChanged(
        event_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=CLINIC_LEVEL_CASE_ID,
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        payload=StaffChangedPayload(staff_id="sup-1", role=StaffRole.SUPERVISOR),
    )


async def alert_rows(pg: asyncpg.Pool, case: str) -> list[asyncpg.Record]:
    return await pg.fetch("SELECT * FROM alerts.alert WHERE case_id = $1 ORDER BY raised_at", case)


def rupture_due(clinic: str, case: str) -> tuple[Alert, EscalationDue]:
    """A rupture alert of a stable alliance's sudden drop, and its escalation once due."""
    [alert] = run_alerts(outputs(srs_series(case, [38] * 6 + [30], clinic=clinic)))[0].values()
    assert alert.escalate_at is not None
    decided = escalation_due(alert, alert.escalate_at)
    assert decided is not None
    return alert, decided


async def notices_of(stack: Endpoints, case: str) -> list[dict[str, Any]]:
    records = of_case(await read_topic(stack.kafka_bootstrap_servers, NOTICES.name), case)
    return [json.loads(r.value)["payload"] for r in records]


async def test_rupture_lifecycle_through_kafka_with_escalation_on_a_fake_clock(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    published = outputs(srs_series(case, [38] * 6 + [30], clinic=clinic))
    await produce(stack.kafka_bootstrap_servers, CONFIG.name, [supervisor(clinic)])
    await produce(stack.kafka_bootstrap_servers, SCORED.name, published)
    clock = FakeClock(published[-1].occurred_at + timedelta(hours=1))
    async with serving(create_app(settings(stack), clock=clock)):
        [alert] = await eventually(lambda: alert_rows(pg, case))
        assert (alert["kind"], alert["status"], alert["therapist_id"]) == (
            "rupture",
            "open",
            "th-1",
        )
        # Redelivery of everything raises nothing new.
        await produce(stack.kafka_bootstrap_servers, SCORED.name, published)
        # 80 hours later nobody has acknowledged it: it escalates to the supervisors, dated at
        # its due time (72 h), once.
        clock.now += timedelta(hours=80)

        async def escalated() -> bool:
            rows = await alert_rows(pg, case)
            return len(rows) == 1 and rows[0]["escalated"]

        await eventually(escalated)
        ack = AlertCommand(
            event_id=uuid.uuid4(),
            clinic_id=clinic,
            case_id=case,
            occurred_at=clock.now,
            recorded_at=clock.now,
            payload=AlertCommandPayload(
                alert_id=alert["alert_id"],
                action=AlertCommandAction.RESOLVE,
                actor_id="th-1",
                note="discussed in session",
            ),
        )
        await produce(stack.kafka_bootstrap_servers, COMMANDS.name, [ack, ack])  # twice

        async def resolved() -> bool:
            rows = await alert_rows(pg, case)
            return bool(rows[0]["status"] == "resolved")

        await eventually(resolved)

        async def three_notices() -> list[dict[str, Any]] | None:
            found = await notices_of(stack, case)
            return found if len({n["action"] for n in found}) >= 3 else None

        notices = await eventually(three_notices, within=30)
    history = await pg.fetch(
        "SELECT action, status, actor_id, note, at FROM alerts.alert_transition "
        "WHERE alert_id = $1 ORDER BY at, action",
        alert["alert_id"],
    )
    assert [h["action"] for h in history] == ["raised", "escalated", "resolved"]
    assert history[1]["at"] == alert["raised_at"] + timedelta(hours=72)
    assert history[2]["note"] == "discussed in session"
    by_action = {n["action"]: n for n in notices}
    assert by_action["raised"]["recipients"] == ["th-1"]
    assert by_action["escalated"]["recipients"] == ["th-1", "sup-1"]
    assert by_action["resolved"]["actor_id"] == "th-1"
    assert len(notices) == len({(n["action"]) for n in notices})  # no notice twice


async def test_a_command_that_does_not_apply_is_dead_lettered_with_its_reason(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    published = outputs(srs_series(case, [38] * 6 + [30], clinic=clinic))
    await produce(stack.kafka_bootstrap_servers, SCORED.name, published)
    async with serving(create_app(settings(stack))):
        [alert] = await eventually(lambda: alert_rows(pg, case))
        now = datetime.now(UTC)
        no_note = AlertCommand(
            event_id=uuid.uuid4(),
            clinic_id=clinic,
            case_id=case,
            occurred_at=now,
            recorded_at=now,
            payload=AlertCommandPayload(
                alert_id=alert["alert_id"], action=AlertCommandAction.RESOLVE, actor_id="th-1"
            ),
        )
        await produce(stack.kafka_bootstrap_servers, COMMANDS.name, [no_note])

        async def dead() -> list[Any]:
            from alliance_contracts.topics import DEAD_LETTER

            return of_case(await read_topic(stack.kafka_bootstrap_servers, DEAD_LETTER.name), case)

        [record] = await eventually(dead, within=30)
    reason = dict(record.headers)["dlq_reason"].decode()
    assert "a resolution needs a note" in reason
    assert (await alert_rows(pg, case))[0]["status"] == "open"


async def test_a_transfer_hands_an_open_rupture_over_to_the_new_therapist(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """A foundation-phase rupture joined the early warning; the score then cleared the cut-off
    (37) but not the pre-rupture level (38): the rupture is open, and so is its alert, which a
    transfer hands over to the new therapist, with its history and evidence."""
    clinic, case = ids("clinic"), ids("case")
    published = outputs(srs_series(case, [38, 38, 30, 37], clinic=clinic))
    await produce(stack.kafka_bootstrap_servers, SCORED.name, published)
    clock = FakeClock(published[0].occurred_at)  # not due to escalate
    transferred_at = published[-1].occurred_at + timedelta(hours=1)
    async with serving(create_app(settings(stack), clock=clock)):

        async def kept_open() -> list[asyncpg.Record] | None:
            rows = await alert_rows(pg, case)
            updates = await pg.fetchval(
                "SELECT count(*) FROM alerts.alert_transition t JOIN alerts.alert a "
                "USING (alert_id) WHERE a.case_id = $1 AND t.action = 'updated'",
                case,
            )
            return rows if updates == 2 else None

        [alert] = await eventually(kept_open)
        assert (alert["kind"], alert["status"], alert["therapist_id"]) == (
            "early_low_alliance",
            "open",
            "th-1",
        )
        transfer = CaseAssigned(
            event_id=uuid.uuid4(),
            clinic_id=clinic,
            case_id=case,
            occurred_at=transferred_at,
            recorded_at=transferred_at,
            payload=CaseAssignedPayload(therapist_id="th-2", transfer=True),
        )
        await produce(stack.kafka_bootstrap_servers, CONFIG.name, [transfer, transfer])  # twice

        async def handover() -> list[dict[str, Any]]:
            return [n for n in await notices_of(stack, case) if n["action"] == "handed_over"]

        [notice] = await eventually(handover, within=30)
    [moved] = await alert_rows(pg, case)
    assert (moved["therapist_id"], moved["status"]) == ("th-2", "open")
    assert "th-2" in notice["recipients"]
    assert notice["alert_id"] == str(alert["alert_id"])
    assert notice["note"] == "case transferred from th-1"
    assert [h["action"] for h in notice["history"]] == [
        "raised",
        "updated",
        "updated",
        "handed_over",
    ]
    assert "the rupture stays open until repaired" in notice["history"][2]["note"]
    assert {e["rule"] for e in notice["evidence"]} >= {"early_low_alliance", "drop_from_previous"}
    history = await pg.fetch(
        "SELECT action FROM alerts.alert_transition WHERE alert_id = $1 ORDER BY at, action",
        alert["alert_id"],
    )
    assert [h["action"] for h in history].count("handed_over") == 1


async def test_a_clock_event_applied_while_its_alert_is_raised_does_not_wait_for_ever(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    """In a replay the escalation may be read while another transaction raises its alert. Had it
    looked before that commit and parked after the raising took what was parked, it would wait
    for ever: both lock the alert's id first, so it waits for the raising and then applies."""
    alert, decided = rupture_due(ids("clinic"), ids("case"))
    async with slot_pool(stack, "alerts") as (pool, schema):
        raising = PostgresAlertsUnitOfWork(pool, schema)
        async with raising:
            assert await raising.parked.take([alert.alert_id]) == []  # as apply_scoring does
            applying = asyncio.create_task(
                apply_clock(PostgresAlertsUnitOfWork(pool, schema), [decided])
            )
            await asyncio.sleep(0.5)
            assert not applying.done()  # it waits for the raising to end
            await raising.alerts.save([alert])
            await raising.commit()
        assert await applying == 1  # applied to the alert just raised (its notice), not parked
        async with PostgresAlertsUnitOfWork(pool, schema) as uow:
            stored = (await uow.alerts.by_id([alert.alert_id]))[alert.alert_id]
            assert await uow.parked.take([alert.alert_id]) == []
    assert stored.escalated
    assert stored.history[-1].at == alert.escalate_at


async def test_the_clock_leaves_an_alert_alone_while_its_case_has_parked_inputs(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    """In a replay, an escalation (or an acknowledgement) read before its alert was raised is
    parked, and retried a moment after the raising. Meanwhile every position has passed it, so
    the clock would decide from an alert that does not have it yet: it skips the case."""
    alert, decided = rupture_due(ids("clinic"), ids("case"))
    async with slot_pool(stack, "alerts") as (pool, schema):
        async with PostgresAlertsUnitOfWork(pool, schema) as uow:
            await uow.alerts.save([alert])
            await uow.commit()
        async with pool.acquire() as conn:
            parked = await conn.fetchval(
                f"INSERT INTO {schema}.parked "
                '(topic, partition, "offset", key, waiting_for, reason, value, headers) '
                "VALUES ($1, 0, 0, $2, $3, 'not consumed yet', $4, '{}') RETURNING id",
                ALERT_CLOCK.name,
                alert.case_id.encode(),
                f"alert:{alert.alert_id}",
                decided.model_dump_json().encode(),
            )
        async with PostgresAlertsUnitOfWork(pool, schema) as uow:
            withheld = await uow.alerts.due(decided.occurred_at, 500)
        async with pool.acquire() as conn:
            await conn.execute(f"DELETE FROM {schema}.parked WHERE id = $1", parked)
        async with PostgresAlertsUnitOfWork(pool, schema) as uow:
            due = await uow.alerts.due(decided.occurred_at, 500)
    assert alert.alert_id not in {a.alert_id for a in withheld}
    assert alert.alert_id in {a.alert_id for a in due}
