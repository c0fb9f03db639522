"""Transactional outbox: events are written in the same PostgreSQL transaction as the state
that produced them, then a relay publishes them to Kafka and deletes the rows.

At-least-once: a crash between the Kafka ack and the delete publishes a row twice; consumers
de-duplicate on the event id (which is deterministic for derived events).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from alliance_contracts.events import EventEnvelope
from alliance_contracts.topics import TopicSpec
from alliance_platform.kafka import create_producer, event_headers

log = logging.getLogger(__name__)
E = TypeVar("E", bound=EventEnvelope)

# A plain connection or one borrowed from a pool.
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


def plumbing_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox and the processed-event ids, in the metadata's schema."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    processed = Table(
        "processed_event",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    return outbox, processed


@dataclass(frozen=True)
class OutboxMessage:
    """An event for a topic; the topic says what it is keyed by."""

    topic: TopicSpec
    event: EventEnvelope

    def row(self) -> tuple[str, str, object, bytes, str]:
        headers = {k: v.decode() for k, v in event_headers(self.event)}
        return (
            self.topic.name,
            self.topic.key_of(self.event),
            self.event.event_id,
            self.event.model_dump_json().encode(),
            json.dumps(headers),
        )


async def enqueue(conn: Connection, schema: str, messages: Sequence[OutboxMessage]) -> None:
    if messages:
        await conn.executemany(
            f"INSERT INTO {schema}.outbox (topic, key, event_id, value, headers) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            [m.row() for m in messages],
        )


async def claim_new_events(conn: Connection, schema: str, events: Sequence[E]) -> list[E]:
    """Records the events' ids as processed, in the caller's transaction; returns the events not
    seen before, in their order (redeliveries, and repeats within the batch, drop out)."""
    rows = await conn.fetch(
        f"INSERT INTO {schema}.processed_event (event_id) SELECT unnest($1::uuid[]) "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        list({e.event_id for e in events}),
    )
    new_ids = {r["event_id"] for r in rows}
    fresh: list[E] = []
    for event in events:
        if event.event_id in new_ids:
            new_ids.discard(event.event_id)
            fresh.append(event)
    return fresh


class OutboxRelay:
    """Publishes outbox rows in id order with an idempotent producer, then deletes them.

    Keeps running while Kafka is down (backing off) and catches up when it returns.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        bootstrap_servers: str,
        client_id: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Call after a commit that enqueued messages, to publish them without waiting a poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.schema}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop_producer()

    @property
    def kafka_up(self) -> bool:
        return self.producer is not None

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            # A failed start leaves a producer unusable: build a fresh one each attempt.
            producer = create_producer(self.bootstrap_servers, self.client_id)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self.producer = producer
        return self.producer

    async def _drop_producer(self) -> None:
        # Sends may be half done; the rows stay (the transaction rolled back) and are re-sent by
        # a fresh producer. Consumers de-duplicate by event id.
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                async with asyncio.timeout(5):
                    await producer.stop()
            except Exception:
                log.warning("outbox producer did not stop cleanly", extra={"schema": self.schema})

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                published = await self.publish_pending(await self._ensure_producer())
                failures = 0
                if published:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka or PostgreSQL unavailable: back off, keep going
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                log.warning(
                    "outbox relay cannot publish, retrying",
                    extra={"schema": self.schema, "error": type(exc).__name__, "retry_in_s": delay},
                )
                await self._drop_producer()
                await asyncio.sleep(delay)
                continue
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wake-up does, and the relay would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()

    async def publish_pending(self, producer: AIOKafkaProducer) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT id, topic, key, value, headers FROM {self.schema}.outbox "
                "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0
            sends = [
                await producer.send(
                    r["topic"],
                    value=r["value"],
                    key=r["key"].encode(),
                    headers=[(k, v.encode()) for k, v in json.loads(r["headers"]).items()],
                )
                for r in rows
            ]
            async with asyncio.timeout(30):
                await asyncio.gather(*sends)
            await conn.execute(
                f"DELETE FROM {self.schema}.outbox WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        return len(rows)

    async def pending(self) -> int:
        async with self.pool.acquire() as conn:
            return int(await conn.fetchval(f"SELECT count(*) FROM {self.schema}.outbox"))
