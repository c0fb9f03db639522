"""The outbox relays on real Kafka and PostgreSQL: a row Kafka can never take is parked with its
reason and every other row keeps flowing; a Kafka that is down parks nothing."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import MetaData

from alliance_contracts.topics import RESPONSES
from alliance_intake.entrypoints.http import create_app as intake_app
from alliance_intake.settings import IntakeSettings
from alliance_platform.db import create_schema
from alliance_platform.outbox import plumbing_tables
from alliance_platform.outbox_relay import RELAY_LOCK, OutboxRelay, RelayStalled
from alliance_scoring.entrypoints.app import create_app as scoring_app
from alliance_scoring.settings import ScoringSettings
from tests.conftest import eventually
from tests.helpers import AUTH_ENV, clinic_system, read_topic, response_body, serving
from tests.stack import Endpoints

OVER_THE_BROKER_LIMIT = 1_100_000  # the fault probe's 1.1 MB


async def insert_row(pg: asyncpg.Pool, schema: str, topic: str, key: str, value: bytes) -> int:
    """An outbox row written directly, as a bug in a service would."""
    row_id: int = await pg.fetchval(
        f"INSERT INTO {schema}.outbox (topic, key, event_id, value, headers) "
        "VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id",
        topic,
        key,
        uuid.uuid4(),
        value,
        json.dumps({"event_type": "test.row"}),
    )
    return row_id


async def test_an_oversize_row_is_parked_and_a_later_response_is_still_scored(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    intake = intake_app(IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV}))
    scoring = scoring_app(ScoringSettings.model_validate(stack.service_env("scoring")))
    async with serving(intake) as client, serving(scoring):
        client.headers.update(clinic_system([clinic]))
        # Same key as the response below: the parked row is a gap, not a wall.
        big = await insert_row(pg, "intake", RESPONSES.name, case, b"x" * OVER_THE_BROKER_LIMIT)
        accepted = await client.post("/v1/responses", json=response_body(clinic, case, 1, 9.0))
        assert accepted.status_code == 202, accepted.text
        event_id = uuid.UUID(accepted.json()["event_id"])

        async def scored() -> bool:
            return bool(
                await pg.fetchval(
                    "SELECT 1 FROM scoring.dyad_score WHERE source_event_id = $1", event_id
                )
            )

        await eventually(scored, within=60)
        status = (await client.get("/v1/outbox")).json()
    parked = await pg.fetchrow(
        "SELECT topic, key, length(value) AS size, reason, parked_at FROM intake.outbox_parked "
        "WHERE id = $1",
        big,
    )
    assert parked is not None
    assert (parked["topic"], parked["key"]) == (RESPONSES.name, case)
    assert parked["size"] == OVER_THE_BROKER_LIMIT  # kept whole, for an operator to look into
    assert "over message.max.bytes (1048588)" in parked["reason"]
    assert parked["parked_at"] is not None
    assert await pg.fetchval("SELECT count(*) FROM intake.outbox WHERE id = $1", big) == 0
    assert status["parked"] >= 1


@pytest.fixture
async def scratch_outbox(stack: Endpoints, ids: Callable[[str], str]) -> AsyncIterator[str]:
    """A throwaway schema with the outbox tables, as every service has them."""
    schema = ids("relay").replace("-", "_")
    await create_schema(stack.database_url, schema, plumbing_tables(MetaData(schema=schema)))
    yield schema
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()


async def drain(relay: OutboxRelay) -> None:
    """Rounds until the outbox is empty; a stalled round (a spent producer) is retried."""
    for _ in range(10):
        try:
            await relay.publish_pending()
        except RelayStalled:
            await asyncio.sleep(0.2)
        if await relay.pending() == 0:
            return
    raise AssertionError("the outbox did not drain")


@pytest.mark.parametrize(
    ("topic_limit", "padding", "refused_size"),
    [
        # The refused record shares a producer batch with the rows around it: they fail with
        # it, and are each tried alone.
        (2_000, 0, 5_000),
        # Batches before it were acknowledged (their rows are deleted, not sent again); the
        # batches after it find the producer's sequence spent and wait for a fresh producer.
        (20_000, 6_000, 30_000),
    ],
    ids=["sharing-its-batch", "after-acknowledged-batches"],
)
async def test_a_row_the_broker_refuses_is_parked_and_the_rows_around_it_are_published_once(
    stack: Endpoints,
    pg: asyncpg.Pool,
    scratch_outbox: str,
    ids: Callable[[str], str],
    topic_limit: int,
    padding: int,
    refused_size: int,
) -> None:
    """A topic whose own limit is below the relay's: the size check lets the row go and the
    broker refuses it (MESSAGE_TOO_LARGE), a non-retriable answer."""
    topic = ids("small-records")
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap_servers)
    await admin.start()
    try:
        config = {"max.message.bytes": str(topic_limit)}
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs=config)])
    finally:
        await admin.close()
    schema = scratch_outbox
    pad = b"." * padding
    before = [f"before-{i}".encode() + pad for i in range(5)]
    after = [f"after-{i}".encode() for i in range(3)]
    for value in before:
        await insert_row(pg, schema, topic, "k1", value)
    refused = await insert_row(pg, schema, topic, "k1", b"y" * refused_size)
    for value in after:
        await insert_row(pg, schema, topic, "k1", value)
    await insert_row(pg, schema, topic, "k2", b"other-key")
    relay = OutboxRelay(pg, schema, stack.kafka_bootstrap_servers, "relay-test")
    try:
        await drain(relay)
    finally:
        await relay.stop()

    parked = await pg.fetch(f"SELECT id, reason FROM {schema}.outbox_parked")
    assert [(r["id"], r["reason"]) for r in parked] == [
        (refused, "refused by Kafka: MessageSizeTooLargeError")
    ]
    assert relay.parked_total == 1
    values = [r.value for r in await read_topic(stack.kafka_bootstrap_servers, topic)]
    # Every other row exactly once, in its key's order: nothing acknowledged was sent again.
    assert [v for v in values if v != b"other-key"] == before + after
    assert values.count(b"other-key") == 1


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_kafka_that_is_down_parks_nothing(pg: asyncpg.Pool, scratch_outbox: str) -> None:
    schema = scratch_outbox
    rows = [await insert_row(pg, schema, RESPONSES.name, "k", b"waiting") for _ in range(3)]
    relay = OutboxRelay(pg, schema, f"127.0.0.1:{closed_port()}", "relay-test", poll_interval=0.1)
    relay.start()
    try:
        await asyncio.sleep(4)  # several attempts and backoffs
        assert not relay.kafka_up
    finally:
        await relay.stop()
    status = await relay.status()
    assert (status.backlog, status.parked) == (3, 0)
    assert status.oldest_age_s is not None
    assert status.oldest_age_s >= 4
    kept = await pg.fetch(f"SELECT id FROM {schema}.outbox ORDER BY id")
    assert [r["id"] for r in kept] == rows
    assert relay.parked_total == 0


async def test_one_relay_publishes_an_outbox_at_a_time(
    stack: Endpoints, pg: asyncpg.Pool, scratch_outbox: str
) -> None:
    """Several worker processes each run a relay over one outbox: a round finds nothing while
    another relay's round holds the outbox, so no relay takes rows behind another's."""
    schema = scratch_outbox
    row = await insert_row(pg, schema, RESPONSES.name, "k", b"one")
    relay = OutboxRelay(pg, schema, stack.kafka_bootstrap_servers, "relay-test")
    try:
        async with pg.acquire() as other, other.transaction():
            assert await other.fetchval(RELAY_LOCK, schema)  # another relay's round
            assert await relay.publish_pending() == 0
            assert await pg.fetchval(f"SELECT count(*) FROM {schema}.outbox") == 1
        assert await relay.publish_pending() == 1
    finally:
        await relay.stop()
    assert await pg.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE id = $1", row) == 0
