"""Test helpers over the real engines: run an app in-process, produce and read Kafka topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from starlette.applications import Starlette

from alliance_contracts.access import Role, Scope
from alliance_contracts.events import EventEnvelope, ResponseSubmitted
from alliance_contracts.fhir import SESSION_EXTENSION, THERAPIST_EXTENSION
from alliance_contracts.instruments import REGISTRY
from alliance_contracts.topics import DEAD_LETTER
from alliance_devstack.processes import free_port
from alliance_platform.db import create_pool
from alliance_platform.dead_letters import Source, dead_letter_headers
from alliance_platform.devtoken import DevIssuer
from alliance_platform.kafka import event_headers
from alliance_platform.projector import Projections
from alliance_platform.settings import CommonSettings
from tests.stack import Endpoints

# aiokafka ships no type information: its records are Any to mypy.
Record: TypeAlias = Any


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Runs the app's lifespan (pool, relay, broker) and gives an HTTP client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@contextlib.asynccontextmanager
async def on_a_socket(app: Starlette, port: int | None = None) -> AsyncIterator[str]:
    """The app served by uvicorn on a loopback port, `port` or a free one (for clients that
    speak real HTTP, and for the services to call back); its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def produce(
    bootstrap: str, topic: str, events: Sequence[EventEnvelope | bytes], key: str = "poison"
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            if isinstance(e, bytes):
                await producer.send_and_wait(topic, e, key=key.encode())
            else:
                await producer.send_and_wait(
                    topic,
                    e.model_dump_json().encode(),
                    key=e.case_id.encode(),
                    headers=event_headers(e),
                )
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str) -> list[Record]:
    """Every record of the topic from the beginning up to its current end (no group, no commit)."""
    # Subscribed without a group, the consumer is assigned every partition of the topic and,
    # with no committed offsets, starts at the earliest. (An explicit seek_to_beginning races
    # with the initial "latest" reset and sometimes loses.)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        for _ in range(100):  # the assignment lands shortly after start
            if partitions := list(consumer.assignment()):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"no partitions assigned for {topic}")
        end = await consumer.end_offsets(partitions)
        records: list[Record] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


def of_case(records: Sequence[Record], case_id: str) -> list[Record]:
    return [r for r in records if r.key == case_id.encode()]


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)


def response_body(
    clinic: str,
    case: str,
    session: int,
    item: float,
    *,
    instrument: str = "SRS",
    role: str = "client",
    therapist: str = "th-1",
    form: str = "client",
    respondent_id: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A POST /v1/responses body; `item` is every item's answer."""
    n = REGISTRY[instrument].items
    body: dict[str, Any] = {
        "clinic_id": clinic,
        "case_id": case,
        "therapist_id": therapist,
        "respondent_role": role,
        "instrument": instrument,
        "form": form,
        "session_number": session,
        "administered_at": (T0 + timedelta(weeks=session)).isoformat(),
        "answers": {str(i): item for i in range(1, n + 1)},
        "idempotency_key": key or f"{case}-{role}-{respondent_id}-{instrument}-{session}",
    }
    if respondent_id:
        body["respondent_id"] = respondent_id
    return body


def submitted_event(
    clinic: str, case: str, session: int, item: float, **kw: Any
) -> ResponseSubmitted:
    body = response_body(clinic, case, session, item, **kw)
    payload = {
        k: v for k, v in body.items() if k not in ("clinic_id", "case_id", "idempotency_key")
    }
    at = datetime.fromisoformat(body["administered_at"])
    return ResponseSubmitted.model_validate(
        {
            "event_id": uuid.uuid4(),
            "clinic_id": clinic,
            "case_id": case,
            "occurred_at": at,
            "recorded_at": at,
            "payload": payload,
        }
    )


# The tests' identity provider: services verify RS256 tokens against its JWKS, with audience
# and issuer, as in production (no dev mode).
ISSUER = DevIssuer.generate(issuer="https://idp.test.alliance", audience="alliance-tests")
_JWKS_DIR = Path(tempfile.mkdtemp(prefix="alliance-test-jwks-"))
ISSUER.save(_JWKS_DIR / "signing-key.json", _JWKS_DIR / "jwks.json")
# Prometheus' bearer token for the services' /metrics.
METRICS_TOKEN = secrets.token_urlsafe(24)
(_JWKS_DIR / "metrics-token").write_text(METRICS_TOKEN)
SIGNING_KEY_FILE = _JWKS_DIR / "signing-key.json"  # for the dev sign-in issuer (tests/signin.py)
AUTH_ENV = {
    "ALLIANCE_JWKS_FILE": str(_JWKS_DIR / "jwks.json"),
    "ALLIANCE_JWT_ISSUER": "https://idp.test.alliance",
    "ALLIANCE_JWT_AUDIENCE": "alliance-tests",
    "ALLIANCE_METRICS_TOKEN_FILE": str(_JWKS_DIR / "metrics-token"),
}


def bearer(role: str, clinics: list[str], subject: str = "user-1") -> dict[str, str]:
    """An Authorization header with a person's token."""
    return {"Authorization": f"Bearer {ISSUER.person(subject, Role(role), clinics)}"}


def questionnaire_response(
    case: str, session: int, answer: float, *, key: str, status: str = "completed"
) -> dict[str, Any]:
    """An SRS client form as a FHIR QuestionnaireResponse (therapist th-1), every item
    answered `answer`: `response_body` in FHIR (docs/fhir.md)."""
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": "urn:ehr-test", "value": key},
        "status": status,
        "questionnaire": "https://alliance.example/fhir/Questionnaire/srs-client|3.0",
        "subject": {"reference": f"Patient/{case}"},
        "source": {"reference": f"Patient/{case}"},
        "authored": (T0 + timedelta(weeks=session)).isoformat(),
        "extension": [
            {"url": THERAPIST_EXTENSION, "valueReference": {"reference": "Practitioner/th-1"}},
            {"url": SESSION_EXTENSION, "valuePositiveInt": session},
        ],
        "item": [{"linkId": str(n), "answer": [{"valueDecimal": answer}]} for n in range(1, 5)],
    }


def transaction(*resources: dict[str, Any]) -> dict[str, Any]:
    """A FHIR transaction Bundle creating each resource."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "QuestionnaireResponse"}}
            for r in resources
        ],
    }


def clinic_system(
    clinics: list[str],
    scopes: tuple[Scope, ...] = (Scope.RESPONSES_WRITE, Scope.CLINIC_ADMIN),
    client: str = "ehr-test",
) -> dict[str, str]:
    """An Authorization header with a clinic system's (machine) token for intake."""
    return {"Authorization": f"Bearer {ISSUER.clinic_system(client, scopes, clinics)}"}


async def create_projection_tables(stack: Endpoints, service: str) -> str:
    """Creates scoring's or alerts' live generation as that service would (its role: the
    catalog, the slot's tables, the views readers see); returns the slot's schema."""
    from alliance_alerts.entrypoints.app import projection as alerts_projection
    from alliance_alerts.settings import AlertsSettings
    from alliance_platform.runtime import projection_settings
    from alliance_scoring.entrypoints.app import projection as scoring_projection
    from alliance_scoring.settings import ScoringSettings

    env = stack.service_env(service)
    if service == "scoring":
        settings: CommonSettings = ScoringSettings.model_validate(env)
        spec = scoring_projection(ScoringSettings.model_validate(env))
    else:
        settings = AlertsSettings.model_validate(env)
        spec = alerts_projection(AlertsSettings.model_validate(env))
    projections = Projections(spec, projection_settings(settings, service))
    try:
        return (await projections.prepare()).schema
    finally:
        await projections.stop()


async def live_slot(
    conn: asyncpg.Pool | asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, projection: str
) -> str:
    """The schema of the projection's live generation: where its private tables are (the
    stable schema has views of its read models only)."""
    slot = await conn.fetchval(f"SELECT slot FROM {projection}.generation WHERE state = 'live'")
    assert slot is not None, f"{projection} has no live generation"
    return f"{projection}_{slot}"


@contextlib.asynccontextmanager
async def on_live_slots(
    pg: asyncpg.Pool, *projections: str
) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy]:
    """A connection whose unqualified table names are those of the projections' live slots, as
    a generation's own pool has them (for a service's store functions; the pool resets the
    setting when the connection goes back)."""
    async with pg.acquire() as conn:
        slots = [await live_slot(conn, projection) for projection in projections]
        await conn.execute(f"SET search_path TO {', '.join(slots)}")
        yield conn


@contextlib.asynccontextmanager
async def slot_pool(stack: Endpoints, service: str) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """A pool as the service's role on its projection's live slot (`search_path`), with the
    slot's schema: what a unit of work of that service takes."""
    url = stack.service_env(service)["DATABASE_URL"]
    schema = await create_projection_tables(stack, service)
    pool = await create_pool(url, 4, search_path=schema)
    try:
        yield pool, schema
    finally:
        await pool.close()


async def graphql(client: httpx.AsyncClient, url: str, query: str, **variables: Any) -> Any:
    """A GraphQL operation against the gateway at `url`; its data (errors fail the test)."""
    response = await client.post(f"{url}/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, (response.status_code, body)
    assert "data" in body, (response.status_code, body)
    return body["data"]


async def put_dead_letter(bootstrap: str, source: Source, reason: str) -> tuple[int, int]:
    """Puts a dead letter on the topic as `DeadLetters` writes it; its partition and offset."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        headers = dead_letter_headers(source, reason, "scoring")
        sent = await producer.send_and_wait(
            DEAD_LETTER.name,
            source.value,
            key=source.key,
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()
    return sent.partition, sent.offset


async def alliance(stack: Endpoints, *args: str) -> tuple[int, Any, str]:
    """Runs the operator CLI as an operator would (a process, `--json`): its exit code, its JSON
    answer (None when it printed none) and its stderr."""
    env = {
        **os.environ,
        "ALLIANCE_DB_ADMIN_URL": stack.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap_servers,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alliance_cli",
        *args,
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, json.loads(out) if out.strip() else None, err.decode()
