"""Intake against real PostgreSQL and Kafka: durability, idempotency, errors, Kafka outages."""

from __future__ import annotations

import json
from collections.abc import Callable

import asyncpg

from alliance_contracts.topics import RESPONSES
from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from tests.conftest import eventually
from tests.helpers import (
    AUTH_ENV,
    Record,
    clinic_system,
    of_case,
    read_topic,
    response_body,
    serving,
)
from tests.stack import Endpoints


def settings(stack: Endpoints, **overrides: str) -> IntakeSettings:
    return IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV, **overrides})


async def test_accepted_response_is_stored_then_published_once(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    body = response_body(clinic, case, 1, 9.5)
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        first = await client.post("/v1/responses", json=body)
        again = await client.post("/v1/responses", json=body)
        assert first.status_code == 202, first.text
        assert again.status_code == 202
        event_id = first.json()["event_id"]
        assert first.json()["duplicate"] is False
        assert again.json() == {"event_id": event_id, "duplicate": True}
        stored = await pg.fetchval(
            "SELECT count(*) FROM intake.submission WHERE case_id = $1", case
        )
        assert stored == 1

        async def published() -> list[Record]:
            return of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)

        records = await eventually(published, within=30)
    assert len(records) == 1
    record = records[0]
    event = json.loads(record.value)
    assert event["event_id"] == event_id
    assert event["event_type"] == "response.submitted"
    assert event["clinic_id"] == clinic
    assert dict(record.headers)["event_type"] == b"response.submitted"


async def test_same_key_with_other_content_is_a_conflict(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        ok = await client.post(
            "/v1/responses", json=response_body(clinic, case, 1, 9, key="k-12345678")
        )
        clash = await client.post(
            "/v1/responses", json=response_body(clinic, case, 2, 9, key="k-12345678")
        )
    assert ok.status_code == 202
    assert clash.status_code == 409
    assert clash.json()["detail"][0]["loc"] == ["body", "idempotency_key"]


async def test_invalid_input_names_the_field_and_rule(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    case = ids("case")
    body = response_body(ids("clinic"), case, 1, 9)
    body["answers"]["3"] = 12
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([ids("clinic")]))
        bad_item = await client.post("/v1/responses", json=body)
        bad_role = await client.post(
            "/v1/responses",
            json={**response_body(ids("clinic"), case, 1, 9), "respondent_role": "x"},
        )
    assert bad_item.status_code == 422
    assert bad_item.json()["detail"] == [
        {
            "loc": ["body", "answers", "3"],
            "msg": "must be between 0 and 10",
            "type": "rule_violation",
        }
    ]
    assert bad_role.status_code == 422
    assert bad_role.json()["detail"][0]["loc"] == ["body", "respondent_role"]
    assert await pg.fetchval("SELECT count(*) FROM intake.submission WHERE case_id = $1", case) == 0


async def test_intake_accepts_while_kafka_is_down_and_catches_up(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    """The relay starts against an address where no Kafka answers (Kafka down), then is
    pointed at the real broker (Kafka back): everything accepted meanwhile is published."""
    clinic, case = ids("clinic"), ids("case")
    app = create_app(settings(stack, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"))
    async with serving(app) as client:
        client.headers.update(clinic_system([clinic]))
        for session in range(1, 6):
            r = await client.post("/v1/responses", json=response_body(clinic, case, session, 9))
            assert r.status_code == 202
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["kafka"] == "down"
        assert (await client.get("/v1/outbox")).json()["pending"] >= 5

        _, relay = app.state.runtime.require()
        relay.bootstrap_servers = stack.kafka_bootstrap_servers  # Kafka is back

        async def all_published() -> bool:
            pending: int = (await client.get("/v1/outbox")).json()["pending"]
            return pending == 0

        await eventually(all_published, within=90)
    records = of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)
    sessions = sorted(json.loads(r.value)["payload"]["session_number"] for r in records)
    assert sessions == [1, 2, 3, 4, 5]
