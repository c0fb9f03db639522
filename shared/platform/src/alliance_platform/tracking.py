"""Tracked positions: exactly-once consumption without trusting Kafka's committed offsets.

Each consumer keeps, in its projection schema, table `tracking`: per topic and partition the
next offset to consume (eventsourcing's tracking records). A batch's claim (the first thing a
use case does in its transaction, `uow.processed.claim(events)`) locks its partitions' rows,
drops the records below the stored position (a redelivery, or a zombie consumer after a
rebalance), parks the records that wait for something (`parking.py`), advances the positions
and, as the relays publish at least once, drops event ids seen in the retention window
(`processed_event`). On assignment the subscriber seeks to the stored positions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aiokafka import ConsumerRebalanceListener, TopicPartition
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from alliance_contracts.events import EventEnvelope
from alliance_platform.db import execute_rows, json_rows
from alliance_platform.dead_letters import Source
from alliance_platform.outbox import Connection, claim_new_events
from alliance_platform.parking import park_waiting

log = logging.getLogger(__name__)

E = TypeVar("E")
V = TypeVar("V", bound=EventEnvelope)
Partition = tuple[str, int]  # (topic, partition)


def consumer_tables(metadata: MetaData, processed_event: Table) -> list[Table]:
    """`tracking` and `parked` in the metadata's schema; indexes `processed_event` by time for
    its pruning."""
    Index(f"{processed_event.name}_processed_at", processed_event.c.processed_at)
    tracking = Table(
        "tracking",
        metadata,
        Column("topic", Text, primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("position", BigInteger, nullable=False),  # the next offset to consume
        Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    parked = Table(
        "parked",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("topic", Text, nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("key", LargeBinary),
        Column("waiting_for", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("parked_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Index("parked_topic_key", "topic", "key", "id"),
    )
    return [tracking, parked]


class Waits(Protocol):
    """What a consumer's events may wait for (e.g. `config:<clinic>:<version>`)."""

    def needs(self, event: Any) -> str | None: ...

    async def missing(self, conn: Connection, schema: str, needs: set[str]) -> set[str]:
        """Those of `needs` not there yet."""
        ...


@dataclass(frozen=True)
class Tracking:
    """How a pipeline tracks one topic's positions in its projection schema, and its parking."""

    pool: Callable[[], asyncpg.Pool]  # the pool exists once the service has started
    schema: str
    topic: str
    waits: Waits | None = None  # None: its records never wait
    park_timeout: timedelta = timedelta(days=1)
    check_every_s: float = 30.0
    retention: timedelta = timedelta(hours=168)  # of the processed-event ids
    # While a projection generation builds beside the live one: the live one's slot (what it
    # consumed, it has dead-lettered already). Read at each use: it ends at the switch.
    frontier: Callable[[], str | None] = lambda: None
    # Called when partitions are revoked or assigned: a consumer that keeps its partitions'
    # state in memory drops it there (another consumer may have moved it on meanwhile).
    forget: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Delivered(Generic[E]):
    source: Source
    event: E
    parked_id: int | None = None  # taken from `parked`, not from the topic


@dataclass(frozen=True)
class Consumed(Generic[E]):
    """What a use case's unit of work claims: the events and where they came from.

    `ends`: per partition, the position to store once the batch commits (after its last
    record, dead-lettered and skipped ones included); empty for records taken from `parked`."""

    delivered: Sequence[Delivered[E]]
    ends: Mapping[Partition, int] = field(default_factory=dict)
    waits: Waits | None = None

    @property
    def events(self) -> list[E]:
        return [d.event for d in self.delivered]


async def claim_consumed(
    conn: Connection, schema: str, consumed: Consumed[Any], events: Sequence[V]
) -> list[V]:
    """In the use case's transaction: the events to apply now, in their order. `events` are
    those of `consumed` (the same objects)."""
    delivered = {id(d.event): d for d in consumed.delivered}
    mine = [delivered[id(e)] for e in events]
    taken = [d.parked_id for d in mine if d.parked_id is not None]
    if taken:
        # Taken from `parked`: only once (another replica may be retrying the same rows).
        rows = await conn.fetch(
            f"DELETE FROM {schema}.parked WHERE id = ANY($1::bigint[]) RETURNING id", taken
        )
        gone = {r["id"] for r in rows}
        current = [d for d in mine if d.parked_id is None or d.parked_id in gone]
    else:
        stored = await lock_positions(conn, schema, consumed.ends)
        current = [d for d in mine if d.source.offset >= stored.get(_partition(d.source), 0)]
        if consumed.waits is not None:
            current = await park_waiting(conn, schema, consumed.waits, current)
        await advance(conn, schema, consumed.ends)
    chosen = {id(d.event) for d in current}
    return await claim_new_events(conn, schema, [e for e in events if id(e) in chosen])


def _partition(source: Source) -> Partition:
    return (source.topic, source.partition)


async def lock_positions(
    conn: Connection, schema: str, partitions: Iterable[Partition]
) -> dict[Partition, int]:
    """The stored positions of these partitions, their rows locked until the transaction ends
    (a second consumer of the same records waits, then sees them consumed)."""
    keys = sorted(partitions)
    if not keys:
        return {}
    topics, numbers = [t for t, _ in keys], [p for _, p in keys]
    await conn.execute(
        f"INSERT INTO {schema}.tracking (topic, partition, position) "
        "SELECT t, p, 0 FROM unnest($1::text[], $2::int[]) AS k(t, p) ON CONFLICT DO NOTHING",
        topics,
        numbers,
    )
    rows = await conn.fetch(
        f"SELECT topic, partition, position FROM {schema}.tracking "
        "WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::int[])) "
        "ORDER BY topic, partition FOR UPDATE",
        topics,
        numbers,
    )
    return {(r["topic"], r["partition"]): r["position"] for r in rows}


async def advance(conn: Connection, schema: str, ends: Mapping[Partition, int]) -> None:
    """One statement for every partition of the batch."""
    await execute_rows(
        conn,
        f"INSERT INTO {schema}.tracking (topic, partition, position) "
        "SELECT r.topic, r.partition, r.position FROM "
        f"{json_rows('topic text', 'partition int', 'position bigint')} "
        "ON CONFLICT (topic, partition) DO UPDATE SET "
        "position = greatest(tracking.position, excluded.position), updated_at = now()",
        [(t, p, end) for (t, p), end in sorted(ends.items())],
    )


async def stored_positions(
    pool: asyncpg.Pool | Connection, schema: str, partitions: Iterable[Partition]
) -> dict[Partition, int]:
    keys = sorted(partitions)
    rows = await pool.fetch(
        f"SELECT topic, partition, position FROM {schema}.tracking "
        "WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
        [t for t, _ in keys],
        [p for _, p in keys],
    )
    return {(r["topic"], r["partition"]): r["position"] for r in rows}


async def consumed_before(conn: Connection, schema: str, ends: Mapping[Partition, int]) -> bool:
    """Whether the consumer tracking its positions in `schema` has consumed every record before
    these ends already (a generation building beside the live one asks the live one's slot:
    what the live one consumed, it has published the derived events of)."""
    stored = await stored_positions(conn, schema, ends)
    return all(stored.get(partition, 0) >= end for partition, end in ends.items())


async def prune_processed(pool: asyncpg.Pool, schema: str, retention: timedelta) -> int:
    """Deletes the processed-event ids older than the retention (see decision 0014: a relay's
    duplicate is consumed soon after its original)."""
    status = await pool.execute(
        f"DELETE FROM {schema}.processed_event WHERE processed_at < now() - $1::interval",
        retention,
    )
    return int(status.split()[-1])


class SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks each assigned partition to its stored position, or to its beginning when none is
    stored, before anything of it is handed out. Kafka's committed offsets are never trusted:
    the claim fences whatever is delivered.

    aiokafka awaits this callback, but its fetcher does not wait for it: while the stored
    positions are read from PostgreSQL, it resets the positions from the committed offsets and
    fetches from there. So the partitions are paused first, synchronously, and resumed once
    sought (a paused partition is neither fetched nor handed out; a fetch made before the seek
    is dropped because its offset no longer matches the position)."""

    def __init__(self, tracking: Tracking) -> None:
        self.pool, self.schema, self.forget = tracking.pool, tracking.schema, tracking.forget
        self.subscriber: Any = None  # set once the subscriber is built; has `.consumer`
        self.topics: tuple[str, ...] = ()  # what the subscriber reads; set with it
        # The partitions the group gave this member last; None until it first joined.
        self.assignment: frozenset[TopicPartition] | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.forget()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.forget()
        self.assignment = frozenset(assigned)
        consumer = self.subscriber.consumer if self.subscriber is not None else None
        if consumer is None or not assigned:
            return
        consumer.pause(*assigned)
        try:
            stored = await stored_positions(
                self.pool(), self.schema, [(tp.topic, tp.partition) for tp in assigned]
            )
            unread = []
            for tp in assigned:
                position = stored.get((tp.topic, tp.partition))
                if position is not None:
                    consumer.seek(tp, position)
                else:  # nothing of it consumed into this schema: from the start, whatever Kafka has
                    unread.append(tp)
            if unread:
                await consumer.seek_to_beginning(*unread)
        finally:  # sought, or not (the database failed): the claim fences what comes
            consumer.resume(*(tp for tp in assigned if tp in consumer.assignment()))
        log.info(
            "partitions assigned; seeking to stored positions",
            extra={"schema": self.schema, "assigned": len(assigned), "stored": len(stored)},
        )


def has_work_or_none_to_have(listener: SeekToStoredPositions) -> bool:
    """Readiness of one tracked consumer: it has joined its group (an assignment came), its
    metadata knows partitions of every topic it reads, and it holds some of them or there are
    none left to have (more members than partitions). A member that joined before its topics
    existed holds nothing and knows no partitions, and stays so until its metadata is refreshed:
    not ready."""
    consumer = listener.subscriber.consumer if listener.subscriber is not None else None
    if consumer is None or listener.assignment is None:
        return False
    return all(consumer.partitions_for_topic(topic) for topic in listener.topics)
