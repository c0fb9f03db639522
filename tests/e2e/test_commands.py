"""Users' requests that intake owns go through intake: the gateway's recordEpisodeEnding and
assignCase become requests on the gateway's topic; intake applies them with the same rules and
idempotency record as its HTTP endpoints and publishes the result on its own topics."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from alliance_contracts.events import EpisodeEndingRequested, EpisodeEndingRequestedPayload
from alliance_contracts.topics import DEAD_LETTER, INTAKE_COMMANDS, RESPONSES
from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.helpers import bearer, clinic_system, graphql, produce, read_topic, response_body
from tests.stack import Endpoints

END = """mutation($clinic: ID!, $case: ID!, $at: DateTime!) { recordEpisodeEnding(input: {
  clinicId: $clinic, caseId: $case, therapistId: "th-1", ending: PLANNED, endedAt: $at,
  clientMutationId: "end-episode-0001"}) { commandId duplicate } }"""
ASSIGN = """mutation($clinic: ID!, $case: ID!) { assignCase(input: {clinicId: $clinic,
  caseId: $case, therapistId: "th-new", transfer: true, clientMutationId: "assign-0001"}) {
  commandId duplicate } }"""
EPISODE = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  episode { status ending } } }"""


async def test_gateway_requests_are_applied_by_intake_once(
    services: dict[str, ServiceProcess],
    stack: Endpoints,
    pg: asyncpg.Pool,
    ids: Callable[[str], str],
) -> None:
    clinic, case = ids("clinic"), ids("case")
    intake, gateway = services["intake"].url, services["gateway"].url
    ended_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    supervisor = bearer("supervisor", [clinic], f"sup-{clinic}")  # mutation ids are per subject
    async with httpx.AsyncClient(timeout=10, headers=supervisor) as client:
        for session in (1, 2):
            r = await client.post(
                f"{intake}/v1/responses",
                json=response_body(clinic, case, session, 9.5),
                headers=clinic_system([clinic]),
            )
            assert r.status_code == 202, r.text

        async def projected() -> Any:
            return (await graphql(client, gateway, EPISODE, clinic=clinic, case=case))["case"]

        await eventually(projected, within=60)
        first = await graphql(client, gateway, END, clinic=clinic, case=case, at=ended_at)
        again = await graphql(client, gateway, END, clinic=clinic, case=case, at=ended_at)
        assigned = await graphql(client, gateway, ASSIGN, clinic=clinic, case=case)
        assert again["recordEpisodeEnding"]["duplicate"] is True

        async def ended() -> Any:
            episode = (await projected())["episode"]
            return episode if episode["status"] == "ended" else None

        assert await eventually(ended, within=60) == {"status": "ended", "ending": "planned"}

    command = first["recordEpisodeEnding"]["commandId"]
    keys = {f"gateway-{command}", f"gateway-{assigned['assignCase']['commandId']}"}

    async def applied() -> list[asyncpg.Record] | None:
        rows = await pg.fetch(
            "SELECT idempotency_key, event->>'event_type' AS type FROM intake.submission "
            "WHERE clinic_id = $1 AND idempotency_key LIKE 'gateway-%'",
            clinic,
        )
        # The assignment, sent after the ending, can land just after the ending shows.
        return rows if len(rows) >= len(keys) else None

    stored = await eventually(applied, within=60)
    assert {r["idempotency_key"] for r in stored} == keys  # once each, through intake
    assert sorted(r["type"] for r in stored) == ["case.assigned", "episode.ended"]
    endings = [
        json.loads(r.value)
        for r in await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name)
        if r.key == case.encode() and json.loads(r.value)["event_type"] == "episode.ended"
    ]
    assert len(endings) == 1  # published by intake, once


async def test_an_invalid_request_is_dead_lettered_with_its_rule(
    services: dict[str, ServiceProcess], stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    future = datetime.now(UTC) + timedelta(days=2)
    request = EpisodeEndingRequested(
        event_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=case,
        occurred_at=future,
        recorded_at=datetime.now(UTC),
        payload=EpisodeEndingRequestedPayload(
            therapist_id="th-1", ending="planned", ended_at=future, requested_by="sup-1"
        ),
    )
    await produce(stack.kafka_bootstrap_servers, INTAKE_COMMANDS.name, [request])

    async def dead_lettered() -> list[Any]:
        return [
            r
            for r in await read_topic(stack.kafka_bootstrap_servers, DEAD_LETTER.name)
            if r.key == case.encode()
        ]

    [record] = await eventually(dead_lettered, within=60)
    headers = dict(record.headers)
    assert headers["dlq_service"] == b"intake"
    assert b"ended_at" in headers["dlq_reason"]
    assert b"must not be in the future" in headers["dlq_reason"]


TIMELINE = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  dyads { timeline { responseId sessionNumber } } } }"""
AMEND = """mutation($clinic: ID!, $case: ID!, $response: ID!, $id: String!) { amendResponse(input: {
  clinicId: $clinic, caseId: $case, responseId: $response, reason: "item 3 mistyped",
  answers: [{item: 1, value: 9.5}, {item: 2, value: 9.5}, {item: 3, value: 2.0},
            {item: 4, value: 9.5}], clientMutationId: $id}) { commandId duplicate } }"""
VOID = """mutation($clinic: ID!, $case: ID!, $response: ID!) { voidResponse(input: {
  clinicId: $clinic, caseId: $case, responseId: $response, reason: "wrong client",
  clientMutationId: "void-response-0001"}) { commandId duplicate } }"""


async def test_a_clinic_admins_amendment_reaches_intake_and_a_therapist_is_refused(
    services: dict[str, ServiceProcess],
    stack: Endpoints,
    pg: asyncpg.Pool,
    ids: Callable[[str], str],
) -> None:
    """The score's responseId names the response; intake checks and publishes the amendment.
    (What scoring makes of it is scoring's test.)"""
    clinic, case = ids("clinic"), ids("case")
    intake, gateway = services["intake"].url, services["gateway"].url
    admin = bearer("clinic_admin", [clinic], f"admin-{clinic}")
    therapist = bearer("clinician", [clinic], "th-1")  # the case's own therapist
    async with httpx.AsyncClient(timeout=10, headers=admin) as client:
        r = await client.post(
            f"{intake}/v1/responses",
            json=response_body(clinic, case, 1, 9.5, key=f"{case}-srs-1"),
            headers=clinic_system([clinic]),
        )
        assert r.status_code == 202, r.text
        original = r.json()["event_id"]

        async def scored() -> Any:
            found = (await graphql(client, gateway, TIMELINE, clinic=clinic, case=case))["case"]
            return found and found["dyads"] and found["dyads"][0]["timeline"]

        [score] = await eventually(scored, within=60)
        assert score["responseId"] == original
        refused = {}
        for mutation, variables in ((AMEND, {"id": "amend-response-0001"}), (VOID, {})):
            answer = await client.post(
                f"{gateway}/graphql",
                headers=therapist,
                json={
                    "query": mutation,
                    "variables": {
                        "clinic": clinic,
                        "case": case,
                        "response": original,
                        **variables,
                    },
                },
            )
            refused[mutation] = answer.json()
        amended = await graphql(
            client,
            gateway,
            AMEND,
            clinic=clinic,
            case=case,
            response=original,
            id="amend-response-0001",
        )
        again = await graphql(
            client,
            gateway,
            AMEND,
            clinic=clinic,
            case=case,
            response=original,
            id="amend-response-0001",
        )
    assert again["amendResponse"] == {**amended["amendResponse"], "duplicate": True}
    for answer in refused.values():
        assert answer["data"] is None
        assert "clinic admin" in answer["errors"][0]["message"]

    async def published() -> list[Any] | None:
        events = [
            json.loads(r.value)
            for r in await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name)
            if r.key == case.encode()
        ]
        return events if len(events) >= 2 else None

    events = await eventually(published, within=60)
    assert [e["event_type"] for e in events] == ["response.submitted", "response.amended"]
    assert events[1]["payload"]["amends"] == original
    assert events[1]["payload"]["amended_by"] == f"admin-{clinic}"
    assert events[1]["payload"]["answers"] == {"1": 9.5, "2": 9.5, "3": 2.0, "4": 9.5}
    command = amended["amendResponse"]["commandId"]
    stored = await pg.fetchval(
        "SELECT event_id FROM intake.response_correction WHERE request_id = $1",
        f"gateway-{command}",
    )
    assert str(stored) == events[1]["event_id"]  # applied once, by intake
