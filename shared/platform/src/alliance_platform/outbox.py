"""Transactional outbox: events are written in the same PostgreSQL transaction as the state
that produced them, then a relay (`outbox_relay.py`) publishes them to Kafka and deletes the
rows; a row Kafka can never take is moved to `outbox_parked`.

At-least-once: a crash between the Kafka ack and the delete publishes a row twice; consumers
de-duplicate on the event id (which is deterministic for derived events).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
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
from alliance_platform import tracing
from alliance_platform.db import execute_rows, json_rows
from alliance_platform.kafka import event_headers

E = TypeVar("E", bound=EventEnvelope)

# A plain connection or one borrowed from a pool.
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


def _outbox_columns() -> list[Column[object]]:
    return [
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    ]


def plumbing_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """The outbox, its parked rows and the processed-event ids, in the metadata's schema."""
    outbox, outbox_parked = outbox_tables(metadata)
    processed = Table(
        "processed_event",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    return outbox, outbox_parked, processed


def outbox_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox and its parked rows, in the metadata's schema."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        *_outbox_columns(),
    )
    # Rows Kafka can never take (too large, refused for what they are), moved here by the relay
    # with the reason; the outbox's columns, its id kept (docs/operations.md).
    outbox_parked = Table(
        "outbox_parked",
        metadata,
        Column("id", BigInteger, primary_key=True),
        *_outbox_columns(),
        Column("parked_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("reason", Text, nullable=False),
    )
    return outbox, outbox_parked


@dataclass(frozen=True)
class OutboxMessage:
    """An event for a topic; the topic says what it is keyed by."""

    topic: TopicSpec
    event: EventEnvelope

    def row(self) -> tuple[str, str, object, bytes, str]:
        headers = {k: v.decode() for k, v in event_headers(self.event)}
        if (parent := tracing.traceparent_for(self.event)) is not None:  # the trace goes on
            headers[tracing.TRACEPARENT] = parent
        return (
            self.topic.name,
            self.topic.key_of(self.event),
            self.event.event_id,
            self.event.model_dump_json().encode(),
            json.dumps(headers),
        )


# The parameter an `also` statement of `enqueue` reads first (the outbox rows are $1).
ENQUEUE_FIRST_FREE_PARAMETER = 2


async def enqueue(
    conn: Connection, schema: str, messages: Sequence[OutboxMessage], also: str = "", *more: object
) -> None:
    """One statement for all the messages; their ids (the relay's order) in the given order.
    `also`: a data-modifying statement run as part of it (a CTE), with its parameters `more`
    from `$2` on: a write and its events in one round trip."""
    before = f"WITH also AS ({also}) " if also else ""
    with tracing.enqueue(schema, len(messages)):  # the rows keep its traceparent
        await execute_rows(
            conn,
            f"{before}INSERT INTO {schema}.outbox (topic, key, event_id, value, headers) "
            "SELECT r.topic, r.key, r.event_id, r.value, r.headers FROM "
            + json_rows("topic text", "key text", "event_id uuid", "value bytea", "headers jsonb")
            + " ORDER BY r.n",
            # JSON carries text: the value goes as the event's JSON, stored as its UTF-8 bytes.
            [(t, k, i, v.decode(), h) for t, k, i, v, h in (m.row() for m in messages)],
            *more,
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


@dataclass(frozen=True)
class OutboxStatus:
    """What an operator asks of an outbox (`alliance status`, metrics)."""

    backlog: int  # rows waiting to be published
    oldest_age_s: float | None  # age of the oldest waiting row; None when there is none
    parked: int  # rows Kafka could not take (outbox_parked)


async def outbox_status(conn: Connection, schema: str) -> OutboxStatus:
    row = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM {schema}.outbox) AS backlog, "
        f"(SELECT extract(epoch FROM now() - min(created_at)) FROM {schema}.outbox) AS oldest, "
        f"(SELECT count(*) FROM {schema}.outbox_parked) AS parked"
    )
    assert row is not None
    oldest = row["oldest"]
    return OutboxStatus(
        int(row["backlog"]), None if oldest is None else float(oldest), int(row["parked"])
    )
