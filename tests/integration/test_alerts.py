"""Alerts against real Kafka and PostgreSQL: the SRS cut-off rule, de-duplication, notices."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from alliance_alerts.entrypoints.app import create_app
from alliance_alerts.settings import AlertsSettings
from alliance_scoring.domain.dyads import score
from alliance_shared.topics import NOTICES, SCORED
from tests.conftest import eventually
from tests.helpers import Record, of_case, produce, read_topic, serving, submitted_event
from tests.stack import Endpoints

NOW = datetime.now(UTC)


async def test_low_srs_raises_one_alert_per_dyad_and_a_notice(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    # Client: 32 (below 36), then 30 (still low: no second alert while one is open).
    # Parent: 38 (fine). Totals are 4 x the item value.
    scored = [
        score(submitted_event(clinic, case, 1, 8.0), NOW),
        score(submitted_event(clinic, case, 2, 7.5), NOW),
        score(submitted_event(clinic, case, 1, 9.5, role="parent", respondent_id="p1"), NOW),
    ]
    await produce(stack.kafka_bootstrap_servers, SCORED.name, scored)
    async with serving(create_app(AlertsSettings.model_validate(stack.env()))):
        notices = await eventually(lambda: _records(stack, case), within=60)
        await produce(stack.kafka_bootstrap_servers, SCORED.name, scored)  # redelivery
        marker = score(submitted_event(clinic, case, 3, 9.9), NOW)
        await produce(stack.kafka_bootstrap_servers, SCORED.name, [marker])

        async def marker_processed() -> bool:
            return bool(
                await pg.fetchval(
                    "SELECT 1 FROM alerts.processed_event WHERE event_id = $1", marker.event_id
                )
            )

        await eventually(marker_processed)

    alerts = await pg.fetch("SELECT * FROM alerts.alert WHERE case_id = $1", case)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["kind"], alert["status"], alert["respondent_role"]) == (
        "low_alliance",
        "open",
        "client",
    )
    evidence = json.loads(alert["evidence"])
    assert evidence["rule"] == "srs_total_below_cutoff"
    assert evidence["inputs"] == {"total": 32.0, "session_number": 1}
    assert evidence["threshold"] == 36.0
    notice = json.loads(notices[0].value)
    assert notice["event_type"] == "alert.raised"
    assert notice["event_id"] == str(alert["alert_id"])
    assert len(of_case(await read_topic(stack.kafka_bootstrap_servers, NOTICES.name), case)) == 1


async def _records(stack: Endpoints, case: str) -> list[Record]:
    return of_case(await read_topic(stack.kafka_bootstrap_servers, NOTICES.name), case)
