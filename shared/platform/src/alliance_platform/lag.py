"""How far a projection is behind its topics: Kafka's end offsets against the positions the
projection tracked in PostgreSQL (its `tracking` table; Kafka's committed offsets are only a
convenience, so they are not what counts)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from alliance_platform.kafka import kafka_client_options

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy | asyncpg.Pool
Position = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    position: int  # the next offset the projection will consume
    end: int  # the next offset Kafka will write

    @property
    def lag(self) -> int:
        return max(0, self.end - self.position)


async def log_bounds(
    bootstrap_servers: str, topics: Iterable[str]
) -> tuple[dict[Position, int], dict[Position, int]]:
    """(first, end) offsets of every partition of the topics (within 10 s)."""
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
        async with asyncio.timeout(10):
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
    finally:
        await consumer.stop()
        await admin.close()
    return (
        {(tp.topic, tp.partition): offset for tp, offset in first.items()},
        {(tp.topic, tp.partition): offset for tp, offset in end.items()},
    )


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
