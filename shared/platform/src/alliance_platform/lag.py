"""How far a projection is behind its topics: Kafka's end offsets against the positions the
projection tracked in PostgreSQL (its `tracking` table; Kafka's committed offsets are only a
convenience, so they are not what counts)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from alliance_platform.broker import Subscription
from alliance_platform.kafka import kafka_client_options
from alliance_platform.metrics import LAG, PARKED

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy | asyncpg.Pool
Position = tuple[str, int]  # (topic, partition)
Clients = tuple[AIOKafkaAdminClient, AIOKafkaConsumer]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    position: int  # the next offset the projection will consume
    end: int  # the next offset Kafka will write

    @property
    def lag(self) -> int:
        return max(0, self.end - self.position)


@asynccontextmanager
async def _kafka_clients(bootstrap_servers: str) -> AsyncIterator[Clients]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=5000, **kafka_client_options()
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        request_timeout_ms=5000,
        **kafka_client_options(),
    )
    try:
        yield admin, consumer
    finally:
        await consumer.stop()
        await admin.close()


async def _bounds(
    clients: Clients, topics: Iterable[str]
) -> tuple[dict[Position, int], dict[Position, int]]:
    admin, consumer = clients
    await admin.start()
    described = await admin.describe_topics(list(topics))
    partitions = [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        if not topic["error_code"]
        for p in topic["partitions"]
    ]
    if not partitions:
        return {}, {}
    await consumer.start()
    first = await consumer.beginning_offsets(partitions)
    end = await consumer.end_offsets(partitions)
    return (
        {(tp.topic, tp.partition): offset for tp, offset in first.items()},
        {(tp.topic, tp.partition): offset for tp, offset in end.items()},
    )


async def log_bounds(
    bootstrap_servers: str, topics: Iterable[str]
) -> tuple[dict[Position, int], dict[Position, int]]:
    """(first, end) offsets of every partition of the topics (within 10 s)."""
    async with asyncio.timeout(10), _kafka_clients(bootstrap_servers) as clients:
        return await _bounds(clients, topics)


async def tracked_positions(conn: Connection, schema: str) -> dict[Position, int]:
    """The positions a projection's slot has stored (none before its first batch)."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".tracking')
    if not exists:
        return {}
    rows = await conn.fetch(f'SELECT topic, partition, position FROM "{schema}".tracking')
    return {(r["topic"], r["partition"]): r["position"] for r in rows}


async def parked_count(conn: Connection, schema: str) -> int:
    """Records a slot holds parked (waiting for something): consumed, not yet folded."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".parked')
    return int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".parked')) if exists else 0


def partition_lags(
    first: Mapping[Position, int], end: Mapping[Position, int], tracked: Mapping[Position, int]
) -> list[PartitionLag]:
    """Per partition: a partition never consumed counts from its first offset."""
    lags = []
    for (topic, partition), end_offset in sorted(end.items()):
        key = (topic, partition)
        position = max(tracked.get(key, 0), first.get(key, 0))
        lags.append(PartitionLag(topic, partition, position, end_offset))
    return lags


async def projection_lag(
    conn: Connection, bootstrap_servers: str, schema: str, topics: Iterable[str]
) -> list[PartitionLag]:
    first, end = await log_bounds(bootstrap_servers, topics)
    return partition_lags(first, end, await tracked_positions(conn, schema))


async def report_lag(bootstrap_servers: str, subscriptions: Sequence[Subscription]) -> None:
    """Sets the lag gauges of the subscriptions (the metrics' consumer state, read at scrape
    time): per group and partition, from the positions stored with the projection when the
    subscription is tracked, from the group's committed offsets otherwise. With several
    replicas each reports every partition of its groups (alert on the max, not the sum)."""
    lags: dict[tuple[str, str, int], int] = {}
    parked: dict[str, int] = {}
    async with _kafka_clients(bootstrap_servers) as clients:
        first, end = await _bounds(clients, {s.topic for s in subscriptions})
        for sub in subscriptions:
            if sub.tracking is not None:
                pool = sub.tracking.pool()
                positions = await tracked_positions(pool, sub.tracking.schema)
                parked[sub.tracking.schema] = await parked_count(pool, sub.tracking.schema)
            else:
                positions = await _committed(clients[0], sub.group)
            of_topic = {k: v for k, v in end.items() if k[0] == sub.topic}
            for lag in partition_lags(first, of_topic, positions):
                lags[(sub.group, lag.topic, lag.partition)] = lag.lag
    LAG.clear()  # groups of a generation that stopped go with it
    for (group, topic, partition), value in lags.items():
        LAG.labels(group, topic, str(partition)).set(value)
    PARKED.clear()
    for schema, count in parked.items():
        PARKED.labels(schema).set(count)


async def _committed(admin: AIOKafkaAdminClient, group: str) -> dict[Position, int]:
    offsets = await admin.list_consumer_group_offsets(group)
    return {
        (tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0
    }
